import ImageLayout
import ImageMount

/// What `MountedImage.mount` mounts, in order: the image's own filesystems (the root first, at "/"), then
/// the chroot mounts (/proc, /sys, /dev…) inside the root. Unmounting goes in reverse.
///
/// The plan starts as the root (`mount_partition`, or the root rule) and how the rest of the tree is
/// found (`tree`); `mount` adds the filesystems the root's /etc/fstab (or `image_mounts`) lists, once the
/// root is mounted and its fstab can be read.
public struct MountPlan: Sendable {
    /// One filesystem of the image and where it goes.
    public struct ImageFilesystem: Sendable {
        /// The partition (or whole disk, number 0) holding it.
        public let volume: Volume
        /// The block device holding exactly `volume`.
        public let device: String
        /// Where it is mounted, inside the image: "/" for the root.
        public let target: String
        /// mount(8)-style options, e.g. "noatime".
        public var options: [String]

        public init(volume: Volume, device: String, target: String, options: [String] = []) {
            self.volume = volume
            self.device = device
            self.target = target
            self.options = options
        }

        public var fstype: String { volume.mountType }
    }

    /// The image's filesystems in mount order; the first is the root, at "/".
    public internal(set) var filesystems: [ImageFilesystem]
    /// Mounted inside the root after the image's filesystems.
    public var chrootMounts: [ChrootMount]
    /// The root rule's choice and its sentence.
    public let rootChoice: RootChoice
    public var tree: FilesystemTreeOptions
    /// How commands in the mounted image are kept from the host.
    public var isolation: ChrootIsolation

    public init(root: ImageFilesystem, rootChoice: RootChoice, tree: FilesystemTreeOptions = .init(),
                chrootMounts: [ChrootMount] = ChrootMount.defaults, isolation: ChrootIsolation = .standard) {
        self.isolation = isolation
        filesystems = [root]
        self.rootChoice = rootChoice
        self.tree = tree
        self.chrootMounts = chrootMounts
    }

    public var root: ImageFilesystem { filesystems[0] }
}
