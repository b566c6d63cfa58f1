import Glibc
import NBDCore

/// The first step of `customize`: in place, the image itself is what the build attaches and writes; with
/// an output, a qcow2 overlay over the image in a run-private work directory next to the output (same
/// filesystem, so the final rename is atomic), recorded in the run ledger, with the output path locked
/// for the whole run. Backing files the image names are refused as `build` refuses them.
final class StepPrepareCustomize: Step {
    let name = "prepare"
    private let inPlace: Bool
    private var lock: OutputDirectoryLock?
    private var workEntry: Int?

    init(inPlace: Bool) { self.inPlace = inPlace }

    func run(_ state: BuildState) throws {
        let config = state.config
        let source = HostPath.absolute(config.sourceImage)
        let chain = try BackingChain.read(source, allowOtherFiles: config.allowBackingFile)
        if !chain.otherFiles.isEmpty {
            state.output.message("--allow-backing-file: the image's disk also reads \(chain.otherFiles.joined(separator: ", "))")
        }
        state.sourceInfo = chain.source
        if inPlace {
            state.overlayPath = source
            state.overlayFormat = chain.source.format
            // The image is its own output: there is nothing to write afterwards.
            state.outputPath = source
            state.output.debug("changing \(source) (\(chain.source.format.rawValue)) in place")
            return
        }
        state.outputDirectory = config.outputDirectory
        let output = "\(state.outputDirectory)/\(config.imageName)"
        lock = try OutputDirectoryLock.acquire(output, runID: state.runID)
        if HostPath.exists(output) && !state.force {
            throw BuildError("\(output) already exists; pass --force to replace it")
        }
        workEntry = try WorkDirectory.make(in: state.outputDirectory, state)
        state.overlayPath = "\(state.workDirectory)/overlay.qcow2"
        state.output.debug("\(source) is \(chain.source.format.rawValue); writes go to the overlay \(state.overlayPath)")
        try QemuImg.createOverlay(state.overlayPath, backing: source, backingFormat: chain.source.format.rawValue)
    }

    func cleanup(_ state: BuildState) throws {
        defer {
            lock?.release()
            lock = nil
        }
        try WorkDirectory.remove(state, entry: &workEntry)
    }
}
