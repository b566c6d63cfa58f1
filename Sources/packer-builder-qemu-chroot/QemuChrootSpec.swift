import PackerRPC
/// The HCL2 schema of the qemu-chroot builder: every option BuilderConfig reads, with the type HCL2
/// converts values to. None is required here: BuilderConfig reports missing ones with better words.
/// `chroot_mounts` is list(list(string)); packer 1.6.6 accepts that nested list (checked live).
public enum QemuChrootSpec {
    public static let spec = ConfigSpec([
        .init("source_image", .string), .init("source_path", .string),
        .init("source_checksum", .string), .init("cache_dir", .string),
        .init("output_directory", .string), .init("image_name", .string), .init("format", .string),
        .init("compression", .bool), .init("compression_type", .string),
        .init("device_path", .string), .init("attach", .string),
        .init("mount_path", .string), .init("mount_partition", .number), .init("mount_options", .list(.string)),
        .init("chroot_mounts", .list(.list(.string))),
        .init("skip_mounts", .list(.string)), .init("image_mounts", .list(.list(.string))), .init("fstab_mounts", .bool),
        .init("copy_files", .list(.string)),
        .init("command_wrapper", .string),
        .init("pre_mount_commands", .list(.string)), .init("post_mount_commands", .list(.string)),
        // A size such as "4G" or a number of MiB; HCL2 turns a number into its string.
        .init("disk_size", .string),
        .init("allow_backing_file", .bool),
        .init("isolation", .string), .init("network", .bool),
        .init("qemu_binary", .string),
        .init("host_binfmt", .bool),
        // Packer's qemu builder writes it as a block; here it is an attribute: qemu_img_args = { convert = [...] }.
        .init("qemu_img_args", .map(.list(.string))),
    ])
}
