import Glibc
import NBDCore

/// The recipe behind `ImageFixtures.build`: table with sgdisk/sfdisk/fdisk, filesystems made in their own
/// files and copied in at their offsets (no loop devices), optional corruption, optional qcow2.
struct ImageFixtureBuilder {
    let spec: ImageSpec
    let fixture: ImageFixture
    static let mib = 1 << 20

    func build() throws {
        let image = fixture.rawImage
        try sparseFile(image, bytes: spec.diskMiB * ImageFixtureBuilder.mib)
        switch spec.table {
        case .gpt(let sectorSize) where sectorSize == 512: try sgdisk(image)
        case .gpt(let sectorSize): try fdisk(image, sectorSize: sectorSize)
        case .mbr: try sfdisk(image)
        case .none: if let fs = spec.wholeDisk { try makeFilesystem(fs, on: image) }
        }
        for partition in spec.partitions {
            guard let fs = partition.filesystem else { continue }
            let file = fixture.filesystemFile(partition.number)
            try sparseFile(file, bytes: partition.sizeMiB * ImageFixtureBuilder.mib)
            try makeFilesystem(fs, on: file)
            try copy(file, into: image, at: UInt64(partition.startMiB * ImageFixtureBuilder.mib))
        }
        if spec.corruptPrimaryGPT, case .gpt(let sectorSize) = spec.table {
            try flipByte(image, at: UInt64(sectorSize + 56))  // the disk GUID: header CRC no longer matches
        }
        if spec.format == .qcow2 {
            try Command.check("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", image, fixture.image])
        }
    }

    private func sgdisk(_ image: String) throws {
        var args = ["-o"]
        for p in spec.partitions {
            let first = p.startMiB * 2048, last = first + p.sizeMiB * 2048 - 1
            args += ["-n", "\(p.number):\(first):\(last)", "-t", "\(p.number):\(p.type)"]
            if !p.name.isEmpty { args += ["-c", "\(p.number):\(p.name)"] }
        }
        try Command.check("sgdisk", args + [image])
    }

    /// util-linux 2.38's sfdisk cannot write 4K-sector tables to a file; `fdisk -b` can, driven by a script.
    private func fdisk(_ image: String, sectorSize: Int) throws {
        let perMiB = ImageFixtureBuilder.mib / sectorSize
        var script = "g\n"
        for p in spec.partitions { script += "n\n\(p.number)\n\(p.startMiB * perMiB)\n\(p.startMiB * perMiB + p.sizeMiB * perMiB - 1)\n" }
        // With a single partition fdisk does not ask which one.
        let ask = { (p: FixturePartition) in spec.partitions.count > 1 ? "\(p.number)\n" : "" }
        for p in spec.partitions { script += "t\n\(ask(p))\(p.type)\n" }
        for p in spec.partitions where !p.name.isEmpty { script += "x\nn\n\(ask(p))\(p.name)\nr\n" }
        try runScript(script + "w\n", "fdisk -b \(sectorSize) '\(image)'")
    }

    private func sfdisk(_ image: String) throws {
        var script = "label: dos\n"
        for p in spec.partitions.sorted(by: { $0.number < $1.number }) {
            script += "\(image)\(p.number) : start=\(p.startMiB * 2048), size=\(p.sizeMiB * 2048), type=\(p.type)\n"
        }
        try runScript(script, "sfdisk -q '\(image)'")
    }

    private func runScript(_ script: String, _ command: String) throws {
        let scriptFile = "\(fixture.directory)/table.script"
        try write(scriptFile, Array(script.utf8))
        try Command.check("/bin/sh", ["-c", "\(command) < '\(scriptFile)'"])
    }

    private func makeFilesystem(_ fs: FixtureFilesystem, on file: String) throws {
        switch fs {
        case .ext4(let label):
            var args = ["-q", "-F", "-L", label, "-E", "root_owner=0:0"]
            if !spec.files.isEmpty { args += ["-d", try seedDirectory()] }
            try Command.check("mkfs.ext4", args + [file])
        case .xfs(let label): try Command.check("mkfs.xfs", ["-q", "-f", "-L", label, file])
        case .btrfs(let label): try Command.check("mkfs.btrfs", ["-q", "-f", "-L", label, file])
        case .vfat(let label): try Command.check("mkfs.vfat", ["-n", label, file])
        case .swap(let label): try Command.check("mkswap", ["-L", label, file])
        }
    }

    private func seedDirectory() throws -> String {
        let dir = "\(fixture.directory)/seed"
        for (path, contents) in spec.files {
            let target = "\(dir)/\(path)"
            try Command.check("/bin/mkdir", ["-p", String(target[..<target.lastIndex(of: "/")!])])
            try write(target, Array(contents.utf8))
        }
        return dir
    }

    // MARK: Files

    private func sparseFile(_ path: String, bytes: Int) throws {
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try syscall("ftruncate", path: path) { ftruncate(file.rawValue, off_t(bytes)) }
        try file.close()
    }

    private func write(_ path: String, _ bytes: [UInt8]) throws {
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try file.writeAll(bytes)
        try file.close()
    }

    /// Copies `source` into `image` at `offset`, skipping all-zero chunks so the image stays sparse.
    private func copy(_ source: String, into image: String, at offset: UInt64) throws {
        let input = try FileDescriptor.open(source, O_RDONLY)
        let output = try FileDescriptor.open(image, O_WRONLY)
        var chunk = [UInt8](repeating: 0, count: ImageFixtureBuilder.mib)
        var position: UInt64 = 0
        while true {
            let got = try chunk.withUnsafeMutableBytes { try input.pread(into: $0, at: position) }
            if got == 0 { break }
            if chunk[0..<got].contains(where: { $0 != 0 }) {
                try chunk.withUnsafeBytes { try output.pwriteAll(UnsafeRawBufferPointer(rebasing: $0[0..<got]), at: offset + position) }
            }
            position += UInt64(got)
        }
        try output.close()
        try input.close()
    }

    private func flipByte(_ image: String, at offset: UInt64) throws {
        let file = try FileDescriptor.open(image, O_RDWR)
        var byte: [UInt8] = [0]
        _ = try byte.withUnsafeMutableBytes { try file.pread(into: $0, at: offset) }
        byte[0] ^= 0xFF
        try byte.withUnsafeBytes { try file.pwriteAll($0, at: offset) }
        try file.close()
    }
}
