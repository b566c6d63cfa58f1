import Glibc

public struct ExecutableNotFound: Error, CustomStringConvertible {
    public let name: String
    public var description: String {
        let package: String
        switch name {
        case "qemu-nbd", "qemu-img": package = "qemu-utils"
        case "qemu-storage-daemon": package = "qemu-system-common"
        default: package = ""
        }
        let hint = package.isEmpty ? "" : " (Debian: apt-get install \(package))"
        return "\(name) not found in PATH\(hint)"
    }
}

public enum ExecutableLookup {
    /// An absolute path for `name`: itself if it contains a slash, else the first executable in PATH.
    public static func resolve(_ name: String) throws -> String {
        if name.contains("/") { return name }
        let path = ProcessEnvironment.current["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw ExecutableNotFound(name: name)
    }

    public static func exists(_ name: String) -> Bool { (try? resolve(name)) != nil }
}

public enum ProcessEnvironment {
    public static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return result
    }
}
