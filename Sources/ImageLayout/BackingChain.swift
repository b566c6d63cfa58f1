import Glibc
import HostSystem

/// A source image and every other file qemu would read to serve its disk (backing files, external data
/// files), checked before qemu opens anything: a crafted qcow2 can name any host file as its backing file,
/// and qemu would hand that file's bytes to the build as disk contents.
public struct BackingChain: Sendable {
    /// The image itself first, then each backing file down the chain.
    public let images: [ImageInfo]

    public var source: ImageInfo { images[0] }

    /// The files other than the source that qemu will read, in chain order.
    public var otherFiles: [String] {
        images.dropFirst().map(\.path) + images.compactMap(\.externalDataFile)
    }

    /// Deeper chains than this are refused: qemu's own limit is in the same range, and a loop must end.
    public static let maximumDepth = 16

    /// Probes `path` and, when `allowOtherFiles`, its whole chain. Without it, an image that names any other
    /// file is refused with a sentence that names the file and the fix.
    public static func read(_ path: String, allowOtherFiles: Bool) throws -> BackingChain {
        var images = [try ImageProbe.probe(path: path)]
        var seen: Set<String> = [HostPath.resolved(path) ?? path]
        while let image = images.last {
            if let dataFile = image.externalDataFile, !allowOtherFiles {
                throw LayoutError("\(image.path) keeps its data in the external file \(dataFile): qemu would read that "
                    + "host file as the disk. Convert the image (qemu-img convert -O qcow2), or opt in with "
                    + "\"allow_backing_file\": true (--allow-backing-file) if you trust it")
            }
            guard let backing = image.backingFile else { break }
            if backing.hasPrefix("json:") {
                throw LayoutError("\(image.path) names its backing file with a json: description (\(backing)), which "
                    + "can point qemu at any file or protocol; qemu-chroot never follows one. Flatten the image with "
                    + "qemu-img convert -O qcow2")
            }
            let resolved = backing.hasPrefix("/") ? backing : PathName.parent(image.path) + "/" + backing
            guard allowOtherFiles else {
                throw LayoutError("\(image.path) names the backing file \(resolved): qemu would read that host file "
                    + "into the image. Flatten the image (qemu-img convert -O qcow2 \(image.path) flat.qcow2), or opt in "
                    + "with \"allow_backing_file\": true (--allow-backing-file) if you trust every file in its chain")
            }
            guard let format = image.backingFormat, ImageFormat(rawValue: format) != nil else {
                let named = image.backingFormat.map { "names the unsupported backing format \($0)" } ?? "names no backing format"
                throw LayoutError("\(image.path) \(named) for \(resolved), so qemu would have to guess it; set it "
                    + "with qemu-img rebase -u -b \(backing) -F qcow2 (or raw) \(image.path)")
            }
            guard images.count < maximumDepth else {
                throw LayoutError("\(path) has a backing chain deeper than \(maximumDepth) images; flatten it with qemu-img convert")
            }
            let real = HostPath.resolved(resolved) ?? resolved
            guard seen.insert(real).inserted else {
                throw LayoutError("\(image.path): the backing chain loops back to \(resolved)")
            }
            let next = try ImageProbe.probe(path: resolved)
            guard next.format.rawValue == format else {
                throw LayoutError("\(image.path) says its backing file \(resolved) is \(format), but that file is "
                    + "\(next.format.rawValue) by its header; fix it with qemu-img rebase -u -F")
            }
            images.append(next)
        }
        return BackingChain(images: images)
    }
}
