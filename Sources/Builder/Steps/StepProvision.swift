import NBDCore

/// Runs the build's provisioners, in template order, through a `ChrootCommunicator`.
final class StepProvision: Step {
    let name = "provision"
    private let hook: ((Communicator, BuildState) throws -> Void)?

    init(_ hook: ((Communicator, BuildState) throws -> Void)? = nil) { self.hook = hook }

    func run(_ state: BuildState) throws {
        guard let session = state.session else { throw BuildError("nothing is mounted") }
        let communicator = try ChrootCommunicator(session: session, commandWrapper: state.config.commandWrapper)
        if let hook { return try hook(communicator, state) }
        let context = ProvisionerContext(communicator: communicator, log: state.output, cancellation: state.cancellation,
                                         template: state.definition.context)
        for provisioner in state.definition.provisioners {
            try ProvisionerRunner.run(provisioner, context)
        }
    }
}
