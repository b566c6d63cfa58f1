import Glibc
import NBDCore

/// `doctor`'s lines for images of other architectures: whether a binfmt_misc private to a command works
/// here (`PrivateBinfmtProbe`), else whether the host fallback applies, then per architecture which emulator
/// would be used and where it would be registered, or why none.
enum EmulationCheck {
    /// The architectures people build images for, besides the host's.
    static let architectures: [Architecture] = [.arm64, .arm, .riscv64, .ppc64le, .s390x, .x86_64]

    /// Where a foreign image's emulator goes on this host.
    enum Placement: Equatable {
        case privateInstance
        /// The kernel has no private binfmt_misc: the host's, for the run (reason says why).
        case host(reason: String)
        case none
    }

    static func all() -> [HostCheck] {
        let foreign = architectures.filter { !$0.runsNatively() }
        let (probe, placement) = privateBinfmt()
        var lines = [probe]
        for architecture in foreign {
            let name = "emulate \(architecture.rawValue)"
            do {
                let path = try EmulationPlan.emulator(for: architecture)
                let handler = BinfmtHandler(architecture: architecture, interpreter: path)
                switch placement {
                case .privateInstance:
                    lines.append(HostCheck(name: name, verdict: .ok, detail: "\(path), registered with flags \(BinfmtHandler.flags) "
                        + "in each command's private binfmt_misc"))
                case .host(let reason):
                    lines.append(HostCheck(name: name, verdict: .ok, detail: "\(path), registered with flags \(BinfmtHandler.flags) in "
                        + "the host's binfmt_misc as \(handler?.name ?? "qemu-chroot-…") while a run uses it (\(reason)); "
                        + "host_binfmt false (shell --no-host-binfmt) stops instead"))
                case .none:
                    lines.append(HostCheck(name: name, verdict: .missing, detail: "\(path) is installed, but this kernel cannot give a "
                        + "command a private binfmt_misc (see above)"))
                }
            } catch {
                lines.append(HostCheck(name: name, verdict: .missing, detail: "\(error)"))
            }
        }
        return lines
    }

    static func privateBinfmt() -> (HostCheck, Placement) {
        let name = "private binfmt_misc"
        do {
            try PrivateBinfmtProbe.run()
            return (HostCheck(name: name, verdict: .ok, detail: "a user namespace of each command mounts its own binfmt_misc "
                + "(Linux 6.7 or later): images of other architectures run without touching the host's handlers"), .privateInstance)
        } catch {
            guard let reason = PrivateBinfmtProbe.kernelLacksPrivateInstance(error) else {
                return (HostCheck(name: name, verdict: .missing, detail: "\(error); images of other architectures cannot run commands "
                    + "here (this needs Linux 6.7 or later and user namespaces)"), .none)
            }
            // Only read here: doctor never registers anything in the host's binfmt_misc.
            do {
                let host = try HostBinfmtMisc.open()
                guard try host.isEnabled() else {
                    return (HostCheck(name: name, verdict: .missing, detail: "\(reason), and the host's binfmt_misc is disabled (its "
                        + "status file says so): images of other architectures cannot run commands here"), .none)
                }
            } catch {
                return (HostCheck(name: name, verdict: .missing, detail: "\(reason), and \(error): images of other architectures "
                    + "cannot run commands here"), .none)
            }
            return (HostCheck(name: name, verdict: .warning, detail: "\(reason); images of other architectures run through a handler "
                + "qemu-chroot registers in the host's binfmt_misc for the runs that need it (the host's processes see it meanwhile; "
                + "docs/cross-arch.md)"), .host(reason: reason))
        }
    }
}
