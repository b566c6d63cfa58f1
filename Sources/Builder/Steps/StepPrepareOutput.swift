import Glibc
import NBDCore

/// Makes the output directory (an existing one is an error unless -force) and the qcow2 overlay the build
/// writes to, backed by the source image, which stays read-only. `disk_size` grows the overlay here.
/// Cleanup removes the overlay, and on failure the output directory this build created.
final class StepPrepareOutput: Step {
    let name = "prepare output"

    func run(_ state: BuildState) throws {
        let config = state.config
        let directory = HostPath.absolute(config.outputDirectory)
        state.outputDirectory = directory
        let source = HostPath.absolute(config.sourceImage)
        // -force empties the output directory: never when the source image lives in it.
        if let real = HostPath.resolved(source), let outputReal = HostPath.resolved(directory), real.hasPrefix(outputReal + "/") {
            throw BuildError("the source image \(source) is inside the output directory \(directory); choose another output_directory")
        }
        if HostPath.exists(directory) {
            guard state.force else {
                throw BuildError("output directory \(directory) already exists; remove it or pass -force")
            }
            state.output.debug("-force: removing the existing output directory \(directory)")
            try FileTree.removeAll(directory)
        }
        state.createdOutputDirectory = try FileTree.makeDirectories(directory)
        // Before qemu opens anything: a backing file the source names would be read into the image.
        let chain = try BackingChain.read(source, allowOtherFiles: config.allowBackingFile)
        if !chain.otherFiles.isEmpty {
            state.output.message("allow_backing_file: the source's disk also reads \(chain.otherFiles.joined(separator: ", "))")
        }
        let info = chain.source
        state.sourceInfo = info
        state.overlayPath = "\(directory)/.\(config.imageName).\(state.runID).overlay.qcow2"
        state.output.debug("source \(source) is \(info.format.rawValue), \(info.virtualSize) bytes; writes go to the overlay \(state.overlayPath)")
        try QemuImg.createOverlay(state.overlayPath, backing: source, backingFormat: info.format.rawValue)
        if let size = config.diskSize {
            guard size >= info.virtualSize else {
                throw BuildError("disk_size \(size) bytes is smaller than the source image (\(info.virtualSize) bytes); images can only grow")
            }
            if size > info.virtualSize {
                state.output.debug("disk_size: growing the overlay from \(info.virtualSize) to \(size) bytes")
                try QemuImg.resize(state.overlayPath, to: size)
            }
        }
    }

    func cleanup(_ state: BuildState) throws {
        if !state.overlayPath.isEmpty, HostPath.exists(state.overlayPath) {
            try syscall("unlink", path: state.overlayPath) { unlink(state.overlayPath) }
        }
        if !state.succeeded && state.createdOutputDirectory {
            state.output.debug("build did not finish: removing the output directory it created, \(state.outputDirectory)")
            try FileTree.removeAll(state.outputDirectory)
            state.createdOutputDirectory = false
        }
    }
}

