import Glibc
import NBDCore

/// Flattens the overlay into the output image with qemu-img convert (compressed when asked) under a
/// temporary name, syncs it, and renames it into place: the output is complete or absent.
final class StepWriteOutput: Step {
    let name = "write output"
    private var partialPath: String?

    func run(_ state: BuildState) throws {
        let config = state.config
        let final = "\(state.outputDirectory)/\(config.imageName)"
        // In the work directory: same filesystem as the output, so the rename is atomic.
        let partial = "\(state.workDirectory)/partial.\(config.format.rawValue)"
        partialPath = partial
        let compression = config.compression ? config.compressionType : nil
        state.output.debug("qemu-img convert to \(config.format.rawValue)" + (compression.map { ", compressed with \($0.rawValue)" } ?? ", uncompressed"))
        let meter = ProgressMeter(compression == nil ? "writing output" : "writing compressed output",
                                  total: state.attachedSize, log: state.output)
        try QemuImg.convert(state.overlayPath, to: partial, format: config.format, compression: compression,
                            options: config.convertArguments, cancellation: state.cancellation) { meter.update(fraction: $0) }
        meter.finish()
        try FileTree.sync(partial)
        try syscall("rename", path: final) { rename(partial, final) }
        partialPath = nil
        try FileTree.sync(state.outputDirectory)
        state.outputPath = final
    }

    func cleanup(_ state: BuildState) throws {
        if let partial = partialPath, HostPath.exists(partial) {
            try syscall("unlink", path: partial) { unlink(partial) }
        }
        partialPath = nil
    }
}
