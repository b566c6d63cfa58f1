import ArgumentParser
import NBDCore

/// `--skip-mount`, `--image-mount`, `--no-fstab-mounts`: which of the image's filesystems go below the root,
/// for `shell` (what it mounts) and `inspect` (what it shows). The template's `skip_mounts`, `image_mounts`
/// and `fstab_mounts` for the command line.
struct FilesystemTreeFlags: ParsableArguments {
    @Option(name: .customLong("skip-mount"), help: "A mount point of the image's fstab to leave out (repeatable), e.g. /boot/efi.")
    var skipMounts: [String] = []

    @Option(name: .customLong("image-mount"), help: "SPEC:PATH (repeatable): mount SPEC (a partition number, UUID=, LABEL=, /dev/vdaN…) at PATH instead of what /etc/fstab lists.")
    var imageMounts: [String] = []

    @Flag(name: .customLong("no-fstab-mounts"), help: "Mount the root only, not the filesystems its /etc/fstab lists.")
    var noFstabMounts = false

    mutating func validate() throws {
        for (index, argument) in imageMounts.enumerated() where ImageMountRequest(argument: argument) == nil {
            throw ValidationError("--image-mount #\(index + 1) \"\(argument)\" is not SPEC:PATH with an absolute PATH (e.g. 15:/boot/efi)")
        }
        if let path = skipMounts.first(where: { !$0.hasPrefix("/") }) {
            throw ValidationError("--skip-mount \"\(path)\" is not an absolute mount point")
        }
    }

    var options: FilesystemTreeOptions {
        FilesystemTreeOptions(skipMounts: skipMounts,
                              imageMounts: imageMounts.isEmpty ? nil : imageMounts.compactMap(ImageMountRequest.init(argument:)),
                              fstabMounts: !noFstabMounts)
    }
}
