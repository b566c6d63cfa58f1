import NBDCore

/// `pre_mount_commands` / `post_mount_commands`: shell commands run on the host (as amazon-chroot runs
/// them), each through `command_wrapper`, with {{.Device}} (the whole disk), {{.RootDevice}} (and after
/// mounting {{.MountPath}}) known.
final class StepHostCommands: Step {
    enum Phase { case preMount, postMount }

    let name: String
    private let phase: Phase

    init(_ phase: Phase) {
        self.phase = phase
        name = phase == .preMount ? "pre_mount_commands" : "post_mount_commands"
    }

    func run(_ state: BuildState) throws {
        let commands = phase == .preMount ? state.config.preMountCommands : state.config.postMountCommands
        var fields = ["Device": state.device, "RootDevice": state.rootDevice]
        if phase == .postMount { fields["MountPath"] = state.mountPath }
        let context = state.definition.context.with(fields: fields)
        for (index, template) in commands.enumerated() {
            if state.cancellation.isCancelled { throw CancelledError(state.cancellation.cancelReason) }
            let command = try Interpolation.render(template, context)
            let wrapped = try Interpolation.render(state.config.commandWrapper, context.with(fields: ["Command": command]))
            state.output.message("\(name)[\(index)]: \(wrapped)")
            let status = try HostShell.run(wrapped, log: state.output, cancellation: state.cancellation)
            guard status.isSuccess else {
                throw BuildError("\(name)[\(index)] \"\(wrapped)\" ended with \(status)")
            }
        }
    }
}
