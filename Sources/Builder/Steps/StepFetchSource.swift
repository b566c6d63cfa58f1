import Glibc
import NBDCore

/// Puts the source where the overlay can use it: a URL is downloaded into the cache and checked against
/// source_checksum, a compressed source is decompressed into the cache, a local source with a checksum is
/// checked. First of the steps, so a mismatch stops the build before anything is made. Partial files go in
/// a run-private directory in the cache, in the run ledger: cleanup removes it (a cancelled download), as
/// `qemu-chroot cleanup` does after a kill -9; complete cache entries stay for later builds.
final class StepFetchSource: Step {
    let name = "fetch source"
    private var partialDirectory: String?
    private var entry: Int?

    func run(_ state: BuildState) throws {
        let config = state.config
        guard let source = config.source else { return }
        let cache = SourceCache(directory: config.cacheDirectory ?? SourceCache.defaultDirectory(ProcessEnvironment.current))
        state.sourcePath = try cache.resolve(source, checksum: config.sourceChecksum, log: state.output,
                                             cancellation: state.cancellation) {
            if let partialDirectory { return partialDirectory }
            let path = "\(cache.directory)/.partial-\(state.runID)"
            entry = try WorkDirectory.make(path, ledger: state.ledger)
            partialDirectory = path
            return path
        }
    }

    func cleanup(_ state: BuildState) throws {
        if let partialDirectory {
            try FileTree.removeAll(partialDirectory)
            self.partialDirectory = nil
        }
        if let done = entry { try state.ledger?.released(done) }
        entry = nil
    }
}
