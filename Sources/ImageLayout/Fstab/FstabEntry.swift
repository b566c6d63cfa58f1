/// One line of an fstab(5) file, with its fields unescaped and the defaults of missing fields filled in.
public struct FstabEntry: Equatable, Sendable {
    /// The 1-based line number, for messages.
    public let line: Int
    /// fs_spec: "UUID=…", "LABEL=…", "/dev/sda1", "server:/export", "proc", …
    public let spec: String
    /// fs_file: the mount point ("none" for swap).
    public let mountPoint: String
    /// fs_vfstype, split at commas: fstab allows a list of types to try ("ext4,ext3", "auto").
    public let types: [String]
    /// fs_mntops split at commas outside double quotes; empty when the field is missing.
    public let options: [String]
    /// fs_freq (dump); 0 when missing.
    public let dumpFrequency: Int
    /// fs_passno (fsck order); 0 when missing.
    public let passNumber: Int

    public init(line: Int, spec: String, mountPoint: String, types: [String], options: [String],
                dumpFrequency: Int = 0, passNumber: Int = 0) {
        self.line = line
        self.spec = spec
        self.mountPoint = mountPoint
        self.types = types
        self.options = options
        self.dumpFrequency = dumpFrequency
        self.passNumber = passNumber
    }

    /// "line 3 (UUID=ab12… on /boot)" — how messages name the entry.
    public var title: String { "fstab line \(line) (\(spec) on \(mountPoint))" }

    /// The value of the last `name=value` option, as mount(8) lets a later option win.
    public func optionValue(_ name: String) -> String? {
        options.last { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    public func hasOption(_ name: String) -> Bool { options.contains(name) }
}

/// A line the parser could not read, left out of the table as libmount does ("parse error … ignored").
public struct FstabLineProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String

    public var description: String { "fstab line \(line): \(message)" }
}

/// The readable entries of an fstab file, in file order, and the lines that could not be read.
public struct FstabTable: Equatable, Sendable {
    public let entries: [FstabEntry]
    public let problems: [FstabLineProblem]
}
