import ArgumentParser
import Builder
import NBDCore

/// `qemu-chroot sample-image PATH`: a small image to try builds on, no download needed.
struct SampleImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-image",
        abstract: "Make a small QCOW2 image (GPT, ext4 root with a busybox-static userland, or Debian with --debian).")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Virtual size, e.g. 128M or 2G (default 128M; 2G with --debian).")
    var size: String?

    @Flag(help: "debootstrap a minimal Debian (needs debootstrap and network) instead of busybox.")
    var debian = false

    @Flag(help: "Put a small \"data\" partition 1 before the root (then partition 2), to try mount_partition.")
    var dataPartition = false

    @Option(help: "Root filesystem: ext4 (default) or btrfs.")
    var filesystem: String = "ext4"

    @Option(help: "qcow2 (default) or raw.")
    var format: String = "qcow2"

    @Option(help: ArgumentHelp("A busybox-static program to install instead of the host's, e.g. one for arm64: the image is then of that architecture.", valueName: "file"))
    var busybox: String?

    @Argument(help: "Where to write the image.")
    var path: String

    func run() throws {
        global.apply()
        var options = SampleImage.Options()
        options.debian = debian
        options.dataPartition = dataPartition
        options.busybox = busybox
        guard ["ext4", "btrfs"].contains(filesystem) else { throw ValidationError("--filesystem must be ext4 or btrfs") }
        options.filesystem = filesystem
        guard let format = ImageFormat(rawValue: format) else { throw ValidationError("--format must be qcow2 or raw") }
        options.format = format
        if debian { options.size = 2 << 30 }
        if let size {
            do { options.size = try DiskSize.parse(.string(size), context: TemplateContext()) } catch {
                throw ValidationError("--size: \(error)")
            }
        }
        try SampleImage.make(at: path, options: options)
        print("\(path): \(options.size >> 20) MiB \(format.rawValue), GPT, \(filesystem) root (\(debian ? "Debian" : "busybox"))")
    }
}
