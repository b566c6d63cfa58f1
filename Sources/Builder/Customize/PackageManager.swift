/// The image's package manager and virt-customize's non-interactive command lines for it.
enum PackageManager: String, CaseIterable {
    case apt = "apt-get", dnf, yum, zypper, apk, pacman

    /// Shell text printing the first package manager found in the image's PATH.
    static let detection = "for m in \(allCases.map(\.rawValue).joined(separator: " ")); do "
        + "if command -v $m >/dev/null 2>&1; then echo $m; exit 0; fi; done; exit 1"

    /// Shell text that keeps the tools from asking anything.
    var environment: String {
        self == .apt ? "export DEBIAN_FRONTEND=noninteractive APT_LISTCHANGES_FRONTEND=none\n" : ""
    }

    func install(_ packages: [String]) -> String {
        let names = ImageShell.quoteAll(packages)
        switch self {
        case .apt: return "apt-get -y update\napt-get -y -o Dpkg::Options::=--force-confold install \(names)"
        case .dnf: return "dnf -y install \(names)"
        case .yum: return "yum -y install \(names)"
        case .zypper: return "zypper -n in -l \(names)"
        case .apk: return "apk update\napk add \(names)"
        case .pacman: return "pacman -Sy --noconfirm \(names)"
        }
    }

    func uninstall(_ packages: [String]) -> String {
        let names = ImageShell.quoteAll(packages)
        switch self {
        case .apt: return "apt-get -y remove \(names)"
        case .dnf: return "dnf -y remove \(names)"
        case .yum: return "yum -y remove \(names)"
        case .zypper: return "zypper -n rm \(names)"
        case .apk: return "apk del \(names)"
        case .pacman: return "pacman -R --noconfirm \(names)"
        }
    }

    var update: String {
        switch self {
        case .apt: "apt-get -y update\napt-get -y -o Dpkg::Options::=--force-confold dist-upgrade"
        case .dnf: "dnf -y --best upgrade"
        case .yum: "yum -y update"
        case .zypper: "zypper -n update -l"
        case .apk: "apk update\napk upgrade"
        case .pacman: "pacman -Syu --noconfirm"
        }
    }
}

extension ImageShell {
    static func quoteAll(_ words: [String]) -> String { words.map(quote).joined(separator: " ") }

    /// The image's package manager; an error naming `operation` when it has none.
    func packageManager(for operation: String) throws -> PackageManager {
        let found = try output(PackageManager.detection)?.trimmingWhitespace() ?? ""
        guard let manager = PackageManager(rawValue: found) else {
            throw BuildError("\(operation): no package manager found in the image (looked for \(PackageManager.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return manager
    }
}
