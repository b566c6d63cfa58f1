import NBDCore

/// `copy_files`: host files put at the same paths in the image for the provisioners (resolv.conf by
/// default); cleanup puts back what the image had there.
final class StepCopyFiles: Step {
    let name = "copy files"
    private var copied: CopiedFiles?

    func run(_ state: BuildState) throws {
        guard let session = state.session, !state.config.copyFiles.isEmpty else { return }
        copied = try session.copyFiles(state.config.copyFiles)
    }

    func cleanup(_ state: BuildState) throws {
        try copied?.undo()
        copied = nil
    }
}
