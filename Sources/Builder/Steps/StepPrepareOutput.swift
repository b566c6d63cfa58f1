import Glibc
import NBDCore

/// Locks the output directory for the whole build, makes it (an existing one is an error unless -force)
/// and, in a run-private work directory inside it, the qcow2 overlay the build writes to, backed by the
/// source image, which stays read-only. `disk_size` grows the overlay here. Both directories are in the run
/// ledger, so `qemu-chroot cleanup` removes them after a kill -9. Cleanup removes the work directory, on
/// failure the output directory this build created, and releases the lock.
final class StepPrepareOutput: Step {
    let name = "prepare output"
    private var lock: OutputDirectoryLock?
    private var outputEntry: Int?
    private var workEntry: Int?

    func run(_ state: BuildState) throws {
        let config = state.config
        let directory = HostPath.absolute(config.outputDirectory)
        state.outputDirectory = directory
        let source = HostPath.absolute(state.sourcePath.isEmpty ? config.sourceImage : state.sourcePath)
        // -force empties the output directory: never when the source image lives in it.
        if let real = HostPath.resolved(source), let outputReal = HostPath.resolved(directory), real.hasPrefix(outputReal + "/") {
            throw BuildError("the source image \(source) is inside the output directory \(directory); choose another output_directory")
        }
        lock = try OutputDirectoryLock.acquire(directory, runID: state.runID)
        if HostPath.exists(directory) {
            guard state.force else {
                throw BuildError("output directory \(directory) already exists; remove it or pass -force")
            }
            state.output.debug("-force: removing the existing output directory \(directory)")
            try FileTree.removeAll(directory)
        }
        outputEntry = try state.ledger?.intend(.createdOutputDirectory(path: directory))
        state.createdOutputDirectory = try FileTree.makeDirectories(directory)
        try recordOutputDirectory(state)
        workEntry = try WorkDirectory.make(in: directory, state)
        let work = state.workDirectory
        // Before qemu opens anything: a backing file the source names would be read into the image.
        let chain = try BackingChain.read(source, allowOtherFiles: config.allowBackingFile)
        if !chain.otherFiles.isEmpty {
            state.output.message("allow_backing_file: the source's disk also reads \(chain.otherFiles.joined(separator: ", "))")
        }
        let info = chain.source
        state.sourceInfo = info
        state.overlayPath = "\(work)/overlay.qcow2"
        state.output.debug("source \(source) is \(info.format.rawValue), \(info.virtualSize) bytes; writes go to the overlay \(state.overlayPath)")
        try QemuImg.createOverlay(state.overlayPath, backing: source, backingFormat: info.format.rawValue)
        state.overlayIsScratch = true
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

    /// `cleanup` removes a killed run's output directory only if it is the very directory the run made: after
    /// the kill, a user or a -force build may have removed it and made another at the same path.
    private func recordOutputDirectory(_ state: BuildState) throws {
        guard let entry = outputEntry else { return }
        if state.createdOutputDirectory {
            let identity = try FileIdentity.of(state.outputDirectory)
            try state.ledger?.held(entry, .createdOutputDirectory(path: state.outputDirectory, identity: identity))
        } else {
            // Someone else made it between our removal and mkdir: not ours to remove.
            try state.ledger?.released(entry)
            outputEntry = nil
        }
    }

    func cleanup(_ state: BuildState) throws {
        defer {
            lock?.release()
            lock = nil
        }
        try WorkDirectory.remove(state, entry: &workEntry)
        if !state.succeeded && state.createdOutputDirectory {
            state.output.debug("build did not finish: removing the output directory it created, \(state.outputDirectory)")
            try FileTree.removeAll(state.outputDirectory)
            state.createdOutputDirectory = false
        }
        if let outputEntry { try state.ledger?.released(outputEntry) }
        outputEntry = nil
    }
}

