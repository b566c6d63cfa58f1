import NBDCore
/// The options of one `qemu-chroot` builder, with the seed plugin's keys and defaults (see docs/builder.md).
/// Strings are rendered when the config is read; fields known only during the build ({{.Device}},
/// {{.MountPath}}, {{.Command}}, {{.RunID}}) stay in the text and are rendered by the step that knows them.
public struct BuilderConfig: Sendable {
    public static let type = "qemu-chroot"
    public static let attachModes = ["auto", "nbd", "nbd-ioctl", "fuse", "loop"]
    public static let defaultMountPath = "/mnt/packer-builder-qemu-chroot/{{.RunID}}/{{.Device}}"

    /// Which builder in the template (`name`, or the type).
    public var buildName: String
    public var sourceImage: String
    /// `source_image` parsed, when the build must download, decompress or check it first (the fetch source
    /// step); nil for a plain local path without source_checksum.
    public var source: SourceImage?
    public var sourceChecksum: SourceChecksum?
    /// `cache_dir`; nil: SourceCache.defaultDirectory (~/.cache/qemu-chroot).
    public var cacheDirectory: String?
    public var outputDirectory: String
    public var imageName: String
    public var format: OutputFormat = .qcow2
    /// `qemu_img_args.convert`: extra arguments for the qemu-img convert that writes the output
    /// (format options such as `-o subformat=streamOptimized`).
    public var convertArguments: [String] = []
    public var compression = false
    /// zstd: about 5x less CPU than zlib for an output a fraction of a percent larger; qemu reads it since 5.1.
    public var compressionType: CompressionType = .zstd
    public var devicePath: String?
    public var attach = "auto"
    public var mountPath = defaultMountPath
    /// nil: the root chosen by the layout's rule; 0: the whole disk; N: partition N (1-based).
    public var mountPartition: Int?
    public var mountOptions: [String] = []
    /// nil: the default chroot mounts (proc, sysfs, /dev bind, devpts, binfmt_misc).
    public var chrootMounts: [ChrootMount]?
    /// `skip_mounts`, `image_mounts`, `fstab_mounts`: which of the image's filesystems join the root.
    public var filesystemTree = FilesystemTreeOptions()
    public var copyFiles = ["/etc/resolv.conf"]
    public var commandWrapper = "{{.Command}}"
    /// `qemu_binary`: the user-mode emulator for an image of another architecture (default: qemu-<arch>-static in PATH).
    public var qemuBinary: String?
    /// `host_binfmt`: where the kernel gives commands no binfmt_misc of their own (Linux before 6.7), register
    /// the emulator in the host's for the run; false stops such a build with the cause instead.
    public var hostBinfmt = true
    public var preMountCommands: [String] = []
    public var postMountCommands: [String] = []
    /// Grow the image (and its last partition and filesystem) to this many bytes before provisioning.
    public var diskSize: UInt64?
    /// Let the source name backing files (or an external data file): qemu reads them into the image.
    public var allowBackingFile = false
    /// `isolation` ("standard" or "strict") and `network`: how provisioners are kept from the host.
    public var isolation = ChrootIsolation.standard

    /// Reads and checks one builder's options; problems go to `problems` (all of them, not the first).
    public static func read(_ options: [(key: String, value: JSONValue)], location: String, buildName: String,
                            context: TemplateContext, problems: ProblemList) -> BuilderConfig {
        let reader = OptionReader(location: location, options: options, context: context, problems: problems)
        _ = reader.value("type")
        _ = reader.value("name")
        var config = BuilderConfig(buildName: buildName, sourceImage: "", outputDirectory: "output-\(buildName)", imageName: "")
        let image = reader.string("source_image"), path = reader.string("source_path")
        switch (image, path) {
        case (let image?, nil): config.sourceImage = image
        case (nil, let path?): config.sourceImage = path
        case (_?, _?): reader.problem("source_path", "set source_image or its alias source_path, not both")
        case (nil, nil):
            if !reader.isSet("source_image") && !reader.isSet("source_path") {
                reader.problem("source_image", "is required: the image to start from (qcow2 or raw)")
            }
        }
        let sourceKey = path != nil && image == nil ? "source_path" : "source_image"
        if let text = reader.string("source_checksum") {
            do { config.sourceChecksum = try SourceChecksum(text) } catch { reader.problem("source_checksum", "\(error)") }
        }
        if let directory = reader.string("cache_dir") {
            if directory.isEmpty { reader.problem("cache_dir", "must not be empty") }
            config.cacheDirectory = directory
        }
        if config.sourceImage.isEmpty && (image != nil || path != nil) {
            reader.problem(sourceKey, "must not be empty")
        } else if !config.sourceImage.isEmpty {
            do {
                let source = try SourceImage(config.sourceImage)
                if source.usesCache || config.sourceChecksum != nil { config.source = source }
                if source.isURL {
                    if !reader.isSet("source_checksum") {
                        reader.problem("source_checksum", "is required with a URL source_image: sha256:HEX, or file:URL of a checksum file")
                    }
                } else if !HostPath.isReadableFile(config.sourceImage) {
                    reader.problem(sourceKey, "cannot read the image \"\(config.sourceImage)\" (a qcow2 or raw file, or one compressed with xz, zstd, gzip or bzip2)")
                }
            } catch {
                reader.problem(sourceKey, "\(error)")
            }
        }
        if let directory = reader.string("output_directory") {
            if directory.isEmpty { reader.problem("output_directory", "must not be empty") }
            config.outputDirectory = directory
        }
        if let format = reader.choice("format", OutputFormat.allCases.map(\.rawValue)) { config.format = OutputFormat(rawValue: format)! }
        config.imageName = "packer-\(buildName).\(config.format.fileExtension)"
        if let value = reader.value("qemu_img_args") {
            // Packer's qemu builder has convert, create and resize lists; only convert writes our output.
            if case .object(let members) = value {
                for (key, list) in members {
                    guard key == "convert" else {
                        reader.problem("qemu_img_args.\(key)", "only \"convert\" applies here: qemu-img convert writes the output")
                        continue
                    }
                    guard case .array(let items) = list, items.allSatisfy({ if case .string = $0 { true } else { false } }) else {
                        reader.problem("qemu_img_args.convert", "expected a list of strings, got \(list.typeName)")
                        continue
                    }
                    config.convertArguments = items.compactMap { if case .string(let text) = $0 { text } else { nil } }
                }
            } else {
                reader.problem("qemu_img_args", "expected an object such as {\"convert\": [\"-o\", \"subformat=streamOptimized\"]}, got \(value.typeName)")
            }
        }
        if let name = reader.string("image_name") {
            if name.isEmpty || name.contains("/") || name == "." || name == ".." {
                reader.problem("image_name", "must be a file name (no \"/\"), got \"\(name)\"")
            }
            config.imageName = name
        }
        config.compression = reader.bool("compression") ?? false
        config.allowBackingFile = reader.bool("allow_backing_file") ?? false
        if let type = reader.choice("compression_type", CompressionType.allCases.map(\.rawValue)) {
            config.compressionType = CompressionType(rawValue: type)!
            if !config.compression { reader.problem("compression_type", "has no effect without \"compression\": true") }
        }
        if config.compression && config.format != .qcow2 {
            reader.problem("compression", "\(config.format.rawValue) images cannot be compressed here; use \"format\": \"qcow2\" (or a compress post-processor)")
        }
        if let device = reader.string("device_path"), !device.isEmpty {
            if !device.hasPrefix("/dev/") { reader.problem("device_path", "expected a device under /dev, got \"\(device)\"") }
            config.devicePath = device
        }
        if let mode = reader.choice("attach", attachModes) { config.attach = mode }
        if let mountPath = reader.string("mount_path", fields: ["Device", "RunID"]) {
            if !mountPath.hasPrefix("/") { reader.problem("mount_path", "must be an absolute path, got \"\(mountPath)\"") }
            config.mountPath = mountPath
        }
        if let partition = reader.int("mount_partition") {
            if partition < 0 { reader.problem("mount_partition", "must be 0 (whole disk) or a partition number from 1, got \(partition)") }
            config.mountPartition = partition
        }
        config.mountOptions = reader.strings("mount_options") ?? []
        if let rows = reader.stringLists("chroot_mounts") {
            config.chrootMounts = rows.enumerated().compactMap { index, row in
                ChrootMount.parse(row: row, location: "chroot_mounts[\(index)]", reader: reader)
            }
        }
        if let isolation = reader.choice("isolation", ["standard", "strict"]) {
            config.isolation.strict = isolation == "strict"
            if config.isolation.strict && config.chrootMounts != nil {
                reader.problem("chroot_mounts", "cannot be combined with \"isolation\": \"strict\", which brings its own minimal /dev, read-only /sys and private devpts; remove one of them")
            }
        }
        if let network = reader.bool("network") { config.isolation.network = network }
        if let skipped = reader.strings("skip_mounts") {
            for (index, path) in skipped.enumerated() where !path.hasPrefix("/") {
                reader.problem("skip_mounts[\(index)]", "must be an absolute mount point inside the image, got \"\(path)\"")
            }
            config.filesystemTree.skipMounts = skipped
        }
        if let rows = reader.stringLists("image_mounts") {
            config.filesystemTree.imageMounts = rows.enumerated().compactMap { index, row in
                guard row.count == 2, !row[0].isEmpty, row[1].hasPrefix("/") else {
                    reader.problem("image_mounts[\(index)]", "must be [device or partition number, absolute mount point], got \(row)")
                    return nil
                }
                return ImageMountRequest(spec: row[0], mountPoint: row[1])
            }
        }
        if let fstab = reader.bool("fstab_mounts") {
            config.filesystemTree.fstabMounts = fstab
            if !fstab && config.filesystemTree.imageMounts != nil {
                reader.problem("fstab_mounts", "has no effect with image_mounts, which replaces fstab discovery")
            }
        }
        if let files = reader.strings("copy_files") {
            for (index, file) in files.enumerated() where !file.hasPrefix("/") {
                reader.problem("copy_files[\(index)]", "must be an absolute host path (it is copied to the same path in the image), got \"\(file)\"")
            }
            config.copyFiles = files
        }
        if let wrapper = reader.string("command_wrapper", fields: ["Command"]) {
            if !wrapper.contains("{{") { reader.problem("command_wrapper", "must contain {{.Command}}, got \"\(wrapper)\"") }
            config.commandWrapper = wrapper
        }
        if let qemuBinary = reader.string("qemu_binary") {
            if qemuBinary.isEmpty || qemuBinary.contains(":") {
                reader.problem("qemu_binary", "must be a path or program name without ':' (binfmt_misc splits on it), got \"\(qemuBinary)\"")
            }
            config.qemuBinary = qemuBinary
        }
        config.hostBinfmt = reader.bool("host_binfmt") ?? true
        config.preMountCommands = reader.strings("pre_mount_commands", fields: ["Device", "RootDevice"]) ?? []
        config.postMountCommands = reader.strings("post_mount_commands", fields: ["Device", "RootDevice", "MountPath"]) ?? []
        if let value = reader.value("disk_size") {
            do { config.diskSize = try DiskSize.parse(value, context: context) } catch {
                reader.problem("disk_size", "\(error)")
            }
        }
        reader.finish(equivalents: amazonChrootEquivalents)
        return config
    }

    /// amazon-chroot's keys that have an equivalent here, for users bringing its templates.
    static let amazonChrootEquivalents = [
        "root_volume_size": " (amazon-chroot's); the equivalent here is \"disk_size\" (a size such as \"8G\"; a bare number is MiB, not GiB)",
        "nvme_device_path": " (amazon-chroot's); the equivalent here is \"device_path\"",
    ]
}

