import HostSystem
import ImageLayout

/// Whether this kernel gives a chroot command a binfmt_misc of its own (Linux 6.7 or later, user
/// namespaces allowed). A real probe: the spawn a command with emulation makes (new user, PID and mount
/// namespaces, binfmt_misc mounted there, a handler registered), running the host's /bin/true. The host's
/// binfmt_misc is not touched.
public enum PrivateBinfmtProbe {
    public static func run() throws {
        // The interpreter only has to exist when the handler is registered: /bin/true stands in for qemu.
        guard let handler = BinfmtHandler(architecture: .arm64, interpreter: "/bin/true") else { return }
        var options = SpawnOptions()
        options.processNamespace = true
        options.binfmtRegistration = handler.registration
        let status = try ChildProcess.spawn("/bin/true", [], options: options).wait()
        guard status.isSuccess else { throw EmulationError("the probe's /bin/true ended with \(status)") }
    }
}
