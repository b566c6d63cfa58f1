import Glibc
import NBDCore

/// Packer's `file` provisioner. Upload: a file goes to `destination`, or into it when it ends in "/";
/// a directory follows the trailing-slash rule (`dir/` copies its contents, `dir` copies itself);
/// `content` is written as the file. Download: a source ending in "/" (or with a glob) is a directory.
struct FileProvisioner {
    let config: FileConfig

    func run(_ context: ProvisionerContext) throws {
        let communicator = context.communicator
        if let content = config.content {
            context.log.message("writing content to \(config.destination)")
            try communicator.upload(.bytes(Array(content.utf8)), to: config.destination, mode: nil)
            return
        }
        for source in config.sources {
            if context.cancellation.isCancelled { throw CancelledError(context.cancellation.cancelReason) }
            switch config.direction {
            case .upload: try upload(source, communicator, context.log)
            case .download: try download(source, communicator, context.log)
            }
        }
    }

    private func upload(_ source: String, _ communicator: Communicator, _ log: BuildLog) throws {
        if HostPath.isDirectory(source) {
            log.message("uploading directory \(source) => \(config.destination)")
            try communicator.uploadDirectory(source, to: config.destination, excluding: [])
            return
        }
        var destination = config.destination
        if destination.hasSuffix("/") { destination += PathName.base(source) }
        log.message("uploading \(source) => \(destination)")
        try communicator.upload(.file(source), to: destination, mode: try HostPath.permissions(source))
    }

    private func download(_ source: String, _ communicator: Communicator, _ log: BuildLog) throws {
        if source.hasSuffix("/") || source.contains(where: { "*?[".contains($0) }) {
            log.message("downloading directory \(source) => \(config.destination)")
            try communicator.downloadDirectory(source, to: config.destination, excluding: [])
            return
        }
        var destination = config.destination
        if destination.hasSuffix("/") {
            try FileTree.makeDirectories(destination)
            destination += PathName.base(source)
        }
        log.message("downloading \(source) => \(destination)")
        let partial = "\(destination).partial-\(getpid())"
        do {
            let file = try FileDescriptor.open(partial, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            try communicator.download(source) { chunk in try chunk.withUnsafeBytes { try file.writeAll($0) } }
            try file.close()
            try syscall("rename", path: destination) { rename(partial, destination) }
        } catch {
            unlink(partial)
            throw error
        }
    }
}
