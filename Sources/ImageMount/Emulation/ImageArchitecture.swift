import Glibc
import HostSystem
import ImageLayout

/// What a mounted image's root says about the machine it is for: the ELF header of /bin/sh (else
/// /sbin/init), each followed through its symlinks inside the image, and os-release for the system's name.
public struct ImageArchitecture: Sendable, Equatable {
    /// Nil when no program could be read or its machine has no name here.
    public let architecture: Architecture?
    /// Where that was read, e.g. "/bin/sh -> /bin/busybox (64-bit little-endian ELF for machine 183)", or why
    /// nothing could be.
    public let evidence: String
    /// PRETTY_NAME (else NAME) from /etc/os-release or /usr/lib/os-release.
    public let osName: String?

    public init(architecture: Architecture?, evidence: String, osName: String?) {
        (self.architecture, self.evidence, self.osName) = (architecture, evidence, osName)
    }

    /// The programs every image that runs commands has; the first one that is an ELF file decides.
    static let programs = ["/bin/sh", "/sbin/init"]

    public static func detect(in image: RootedPath) -> ImageArchitecture {
        var tried: [String] = []
        for program in programs {
            switch identity(of: program, in: image) {
            case .success(let (identity, resolved)):
                let shown = resolved == program ? program : "\(program) -> \(resolved)"
                return ImageArchitecture(architecture: identity.architecture, evidence: "\(shown) (\(identity.description))",
                                         osName: osName(in: image))
            case .failure(let reason):
                tried.append("\(program) \(reason)")
            }
        }
        return ImageArchitecture(architecture: nil, evidence: tried.joined(separator: "; "), osName: osName(in: image))
    }

    private struct Unreadable: Error, CustomStringConvertible { let description: String }

    private static func identity(of program: String, in image: RootedPath) -> Result<(ELFIdentity, String), Unreadable> {
        let file: FileDescriptor
        do {
            file = try image.open(program, O_RDONLY | O_NOCTTY | O_NONBLOCK)
        } catch {
            return .failure(Unreadable(description: "cannot be opened (\(error))"))
        }
        defer { try? file.close() }
        // The symlinks followed, for the message: the host path of what was opened, inside the image.
        let prefix = image.root.hasSuffix("/") ? String(image.root.dropLast()) : image.root
        let resolved = (try? RootedPath.hostPath(of: file)).flatMap { $0.hasPrefix(prefix + "/") ? String($0.dropFirst(prefix.count)) : nil } ?? program
        guard let header = try? file.read(count: ELFIdentity.headerPrefix), let identity = ELFIdentity.parse(header) else {
            return .failure(Unreadable(description: "is not an ELF program"))
        }
        return .success((identity, resolved))
    }

    private static func osName(in image: RootedPath) -> String? {
        for path in ["/etc/os-release", "/usr/lib/os-release"] {
            guard let file = try? image.open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK) else { continue }
            defer { try? file.close() }
            guard let bytes = try? file.read(count: 16384) else { continue }
            let fields = OSReleaseFields.parse(String(decoding: bytes, as: UTF8.self))
            if let name = fields["PRETTY_NAME"] ?? fields["NAME"] { return name }
        }
        return nil
    }
}

/// os-release(5): KEY=value lines, the value optionally in single or double quotes.
public enum OSReleaseFields {
    public static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let equals = line.firstIndex(of: "="), !line.hasPrefix("#") else { continue }
            var value = Substring(line[line.index(after: equals)...])
            if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
                value = value.dropFirst().dropLast()
            }
            fields[String(line[..<equals])] = String(value).replacing("\\\"", with: "\"")
        }
        return fields
    }
}
