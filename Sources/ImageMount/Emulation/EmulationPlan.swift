import Glibc
import HostSystem
import ImageLayout

/// How a mounted image's programs will run on this host, and why.
public enum EmulationPlan: Sendable, Equatable, CustomStringConvertible {
    /// The host runs them itself (the same architecture, or one it has a compat mode for).
    case native(ImageArchitecture)
    /// The architecture could not be told (no /bin/sh or /sbin/init ELF): commands run as they are.
    case undetermined(ImageArchitecture)
    /// Through `handler`'s emulator, registered in a binfmt_misc private to each command.
    case emulated(ImageArchitecture, BinfmtHandler)
    /// Through `handler`'s emulator, registered in the host's binfmt_misc for as long as a run uses it
    /// (`HostBinfmtLease`), because this kernel gives a command no binfmt_misc of its own: `reason` says why.
    case hostEmulated(ImageArchitecture, BinfmtHandler, reason: String)

    /// The emulator's handler, wherever it is registered.
    public var handler: BinfmtHandler? {
        switch self {
        case .emulated(_, let handler), .hostEmulated(_, let handler, _): return handler
        case .native, .undetermined: return nil
        }
    }

    /// The handler each command registers in a binfmt_misc of its own (nil in the host fallback: commands then
    /// run as for a native image, and the host's handler runs the image's programs).
    public var privateHandler: BinfmtHandler? {
        if case .emulated(_, let handler) = self { return handler }
        return nil
    }

    /// The handler the run registers in the host's binfmt_misc.
    public var hostHandler: BinfmtHandler? {
        if case .hostEmulated(_, let handler, _) = self { return handler }
        return nil
    }

    public var image: ImageArchitecture {
        switch self {
        case .native(let image), .undetermined(let image), .emulated(let image, _), .hostEmulated(let image, _, _): return image
        }
    }

    /// One sentence for `--debug` and `shell`.
    public var description: String {
        switch self {
        case .native(let image):
            return "the image\(image.named) is \(image.architecture?.rawValue ?? "?") (\(image.evidence)): runs natively on this \(Architecture.host.rawValue) host"
        case .undetermined(let image):
            return "the image's architecture is unknown (\(image.evidence)): commands run without emulation"
        case .emulated(let image, let handler):
            return "the image\(image.named) is \(handler.architecture.rawValue) (\(image.evidence)): commands run through \(handler.interpreter), "
                + "registered with flags \(BinfmtHandler.flags) in a binfmt_misc private to each command (the host's is not touched)"
        case .hostEmulated(let image, let handler, let reason):
            return "the image\(image.named) is \(handler.architecture.rawValue) (\(image.evidence)): commands run through \(handler.interpreter), "
                + "registered with flags \(BinfmtHandler.flags) in the host's binfmt_misc as \(handler.name) for this run (\(reason)); "
                + "removed when the last run using it ends"
        }
    }

    /// The plan for `image`: native when the host runs it, else its emulator: `qemuBinary` when set (the
    /// `qemu_binary` option), else qemu-<arch>-static in PATH, registered in a binfmt_misc private to each
    /// command, or, where the kernel has none (Linux before 6.7) and `hostBinfmt` allows it, in the host's for
    /// the run. Throws, naming the fix, when a foreign image has no emulator or no way to register it: its
    /// commands could only fail with "exec format error".
    public static func plan(for image: ImageArchitecture, qemuBinary: String? = nil, hostBinfmt: Bool = true) throws -> EmulationPlan {
        guard let architecture = image.architecture else { return .undetermined(image) }
        if architecture.runsNatively() && qemuBinary == nil { return .native(image) }
        let path = try emulator(for: architecture, qemuBinary: qemuBinary, image: image)
        guard let handler = BinfmtHandler(architecture: architecture, interpreter: path) else {
            throw EmulationError("the emulator path \(path) cannot be registered with binfmt_misc (it must be absolute and "
                + "contain no ':'): set qemu_binary to another path")
        }
        // Fail here, naming the cause, rather than at the first command with a spawn error.
        do { try PrivateBinfmtProbe.run() } catch {
            guard let reason = PrivateBinfmtProbe.kernelLacksPrivateInstance(error) else {
                throw EmulationError("the image is \(architecture.rawValue) and this host is \(Architecture.host.rawValue), but a command "
                    + "cannot get a binfmt_misc of its own here (\(error)); see docs/cross-arch.md")
            }
            guard hostBinfmt else {
                throw EmulationError("the image is \(architecture.rawValue) and this host is \(Architecture.host.rawValue), but this kernel "
                    + "cannot give a command a binfmt_misc of its own (\(error)): that needs Linux 6.7 or later; host_binfmt is false "
                    + "(shell: --no-host-binfmt), so qemu-chroot does not register a handler in the host's binfmt_misc: run it on a "
                    + "6.7+ kernel, or allow host_binfmt (docs/cross-arch.md)")
            }
            return .hostEmulated(image, handler, reason: reason)
        }
        return .emulated(image, handler)
    }

    private static func isDynamicallyLinked(_ path: String) -> Bool {
        guard let file = try? FileDescriptor.open(path, O_RDONLY), let header = try? file.read(count: 64) else { return false }
        defer { try? file.close() }
        return ELFIdentity.namesInterpreter(header: header) { offset, count in
            var bytes = [UInt8](repeating: 0, count: count)
            let got = bytes.withUnsafeMutableBytes { try? file.pread(into: $0, at: offset) }
            return got == count ? bytes : nil
        } == true
    }

    /// The emulator's absolute path, checked to be an executable file of the host's own architecture.
    public static func emulator(for architecture: Architecture, qemuBinary: String? = nil,
                                image: ImageArchitecture? = nil) throws -> String {
        let path: String
        if let qemuBinary {
            path = qemuBinary.hasPrefix("/") ? qemuBinary : try ExecutableLookup.resolve(qemuBinary)
        } else {
            guard let name = architecture.qemuName else {
                throw EmulationError("the image is \(architecture.rawValue)\(image.map { " (\($0.evidence))" } ?? ""); qemu has no "
                    + "user-mode emulator qemu-chroot can register for it: set qemu_binary to one")
            }
            do {
                path = try ExecutableLookup.resolve("qemu-\(name)-static")
            } catch {
                throw EmulationError("the image is \(architecture.rawValue)\(image.map { " (\($0.evidence))" } ?? "") and this host is "
                    + "\(Architecture.host.rawValue): its programs need qemu-\(name)-static, which is not in PATH; install "
                    + "qemu-user-static (Debian: apt-get install qemu-user-static) or set qemu_binary (shell: --qemu-binary)")
            }
        }
        guard access(path, X_OK) == 0 else {
            throw EmulationError("the emulator \(path) is not an executable file: \(Errno.message(errno)); set qemu_binary to qemu's "
                + "\(architecture.qemuName ?? architecture.rawValue) user-mode emulator")
        }
        // The kernel starts the emulator inside the chroot: a dynamically linked one would look for its
        // loader and libraries in the image and fail there with "No such file or directory".
        if isDynamicallyLinked(path) {
            throw EmulationError("the emulator \(path) is dynamically linked: it would look for its libraries inside the image; "
                + "use the statically linked one (qemu-\(architecture.qemuName ?? architecture.rawValue)-static from qemu-user-static)")
        }
        return path
    }
}

extension ImageArchitecture {
    /// " (Debian GNU/Linux 13 (trixie))", or nothing without an os-release.
    var named: String { osName.map { " (\($0))" } ?? "" }
}

/// No usable emulator for an image's architecture; the message names the fix.
public struct EmulationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
