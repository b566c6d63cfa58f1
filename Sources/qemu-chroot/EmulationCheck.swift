import Glibc
import NBDCore

/// `doctor`'s lines for images of other architectures: whether a binfmt_misc private to a command works
/// here (`PrivateBinfmtProbe`), then per architecture which emulator would be used, or why none.
enum EmulationCheck {
    /// The architectures people build images for, besides the host's.
    static let architectures: [Architecture] = [.arm64, .arm, .riscv64, .ppc64le, .s390x, .x86_64]

    static func all() -> [HostCheck] {
        let foreign = architectures.filter { !$0.runsNatively() }
        let probe = privateBinfmt()
        var lines = [probe]
        for architecture in foreign {
            let name = "emulate \(architecture.rawValue)"
            do {
                let path = try EmulationPlan.emulator(for: architecture)
                if probe.verdict == .ok {
                    lines.append(HostCheck(name: name, verdict: .ok, detail: "\(path), registered with flags \(BinfmtHandler.flags) "
                        + "in each command's private binfmt_misc"))
                } else {
                    lines.append(HostCheck(name: name, verdict: .missing, detail: "\(path) is installed, but this kernel cannot give a "
                        + "command a private binfmt_misc (see above)"))
                }
            } catch {
                lines.append(HostCheck(name: name, verdict: .missing, detail: "\(error)"))
            }
        }
        return lines
    }

    static func privateBinfmt() -> HostCheck {
        let name = "private binfmt_misc"
        do {
            try PrivateBinfmtProbe.run()
            return HostCheck(name: name, verdict: .ok, detail: "a user namespace of each command mounts its own binfmt_misc "
                + "(Linux 6.7 or later): images of other architectures run without touching the host's handlers")
        } catch {
            return HostCheck(name: name, verdict: .missing, detail: "\(error); images of other architectures cannot run commands "
                + "here (this needs Linux 6.7 or later and user namespaces)")
        }
    }
}
