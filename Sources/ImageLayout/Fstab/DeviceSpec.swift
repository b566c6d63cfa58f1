/// What an fstab fs_spec names, read without looking at any host device: a tag, a partition of the image's
/// one disk, or an LVM logical volume.
public enum DeviceSpec: Equatable, Sendable {
    case uuid(String), label(String), partUUID(String), partLabel(String)
    /// Partition `number` of the disk (0: the whole disk), written as `disk` ("sda", "nvme0n1", …).
    case partition(disk: String, number: Int)
    case logicalVolume(group: String, volume: String)
    /// /dev/root: whatever the kernel booted as root.
    case kernelRoot
    /// A name that cannot be tied to this image; the text says why.
    case unknown(String)

    /// The whole disk the image becomes at boot is the first disk of its kind: sda, vda, xvda, hda,
    /// nvme0n1 or mmcblk0. Any other disk (sdb, nvme1n1, …) is a second disk the image does not contain.
    public static let imageDiskNames = ["sda", "vda", "xvda", "hda", "nvme0n1", "mmcblk0"]

    public init(_ spec: String) {
        if let (tag, value) = DeviceSpec.splitTag(spec) {
            switch tag {
            case "UUID": self = .uuid(value)
            case "LABEL": self = .label(value)
            case "PARTUUID": self = .partUUID(value)
            default: self = .partLabel(value)
            }
            return
        }
        let byLink: [(String, (String) -> DeviceSpec)] = [
            ("/dev/disk/by-uuid/", { .uuid($0) }), ("/dev/disk/by-label/", { .label($0) }),
            ("/dev/disk/by-partuuid/", { .partUUID($0) }), ("/dev/disk/by-partlabel/", { .partLabel($0) }),
        ]
        for (prefix, make) in byLink where spec.hasPrefix(prefix) {
            let name = String(spec.dropFirst(prefix.count))
            self = name.isEmpty || name.contains("/") ? .unknown("\(spec) is not a udev by-* link name") : make(DeviceSpec.udevUnescape(name))
            return
        }
        if spec.hasPrefix("/dev/disk/") {
            self = .unknown("\(spec) names hardware (by-id, by-path) that exists only on the machine the image came from")
            return
        }
        if spec == "/dev/root" {
            self = .kernelRoot
            return
        }
        if spec.hasPrefix("/dev/mapper/") {
            let name = String(spec.dropFirst("/dev/mapper/".count))
            if let (group, volume) = DeviceSpec.splitMapperName(name) {
                self = .logicalVolume(group: group, volume: volume)
            } else {
                self = .unknown("\(spec) is a device-mapper name that is not VG-LV (LUKS or multipath?)")
            }
            return
        }
        guard spec.hasPrefix("/dev/") else {
            self = .unknown("\(spec) is not a device path")
            return
        }
        let name = String(spec.dropFirst("/dev/".count))
        if let partition = DeviceSpec.partition(name) {
            self = partition
            return
        }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty {
            self = .logicalVolume(group: String(parts[0]), volume: String(parts[1]))
            return
        }
        self = .unknown("\(spec) is a device name this image cannot be matched to")
    }

    static func isTag(_ spec: String) -> Bool { splitTag(spec) != nil }

    /// `UUID=…`, also quoted (`UUID="…"`), as libblkid accepts.
    private static func splitTag(_ spec: String) -> (String, String)? {
        guard let equals = spec.firstIndex(of: "=") else { return nil }
        let tag = String(spec[..<equals])
        guard ["UUID", "LABEL", "PARTUUID", "PARTLABEL"].contains(tag) else { return nil }
        var value = String(spec[spec.index(after: equals)...])
        if value.count >= 2, (value.hasPrefix("\"") && value.hasSuffix("\"")) || (value.hasPrefix("'") && value.hasSuffix("'")) {
            value = String(value.dropFirst().dropLast())
        }
        return (tag, value)
    }

    /// sdXN, vdXN, xvdXN, hdXN, nvmeCnNpP, mmcblkNpP (and the disks themselves, as partition 0).
    private static func partition(_ name: String) -> DeviceSpec? {
        for prefix in ["xvd", "sd", "vd", "hd"] where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            let letters = rest.prefix { $0 >= "a" && $0 <= "z" }
            let digits = rest.dropFirst(letters.count)
            guard !letters.isEmpty, digits.allSatisfy(\.isASCIIDigit) else { return nil }
            guard let number = digits.isEmpty ? 0 : Int(digits) else { return nil }
            return .partition(disk: prefix + letters, number: number)
        }
        for prefix in ["nvme", "mmcblk"] where name.hasPrefix(prefix) {
            // nvme0n1p2 → disk nvme0n1, partition 2; mmcblk0p1 → disk mmcblk0, partition 1.
            let body = String(name)
            if let p = body.lastIndex(of: "p"), body.distance(from: body.startIndex, to: p) > prefix.count {
                let disk = String(body[..<p]), digits = body[body.index(after: p)...]
                if isDiskName(disk, prefix), !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let number = Int(digits) {
                    return .partition(disk: disk, number: number)
                }
            }
            return isDiskName(body, prefix) ? .partition(disk: body, number: 0) : nil
        }
        return nil
    }

    private static func isDiskName(_ name: String, _ prefix: String) -> Bool {
        let rest = name.dropFirst(prefix.count)
        if prefix == "mmcblk" { return !rest.isEmpty && rest.allSatisfy(\.isASCIIDigit) }
        let pieces = rest.split(separator: "n", omittingEmptySubsequences: false)
        return pieces.count == 2 && pieces.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }
    }

    /// device-mapper names an LV "VG-LV" with every '-' inside either name doubled ("ubuntu--vg-ubuntu--lv").
    static func splitMapperName(_ name: String) -> (String, String)? {
        var group = "", volume = "", inVolume = false
        var characters = Array(name)[...]
        while let character = characters.popFirst() {
            if character == "-" {
                if characters.first == "-" {
                    characters.removeFirst()
                    if inVolume { volume.append("-") } else { group.append("-") }
                } else if !inVolume {
                    inVolume = true
                } else {
                    return nil
                }
            } else if inVolume {
                volume.append(character)
            } else {
                group.append(character)
            }
        }
        return inVolume && !group.isEmpty && !volume.isEmpty ? (group, volume) : nil
    }

    /// udev writes bytes outside [0-9A-Za-z#+-.:=@_] and valid UTF-8 as `\xHH` in link names ('/' is `\x2f`,
    /// ' ' is `\x20`).
    static func udevUnescape(_ name: String) -> String {
        BackslashEscapes.decode(name, width: 3) { escape in
            let hex = String(decoding: escape.dropFirst(), as: UTF8.self)
            guard escape.first == UInt8(ascii: "x"), hex.allSatisfy(\.isHexDigit) else { return nil }
            return UInt8(hex, radix: 16)
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
