import CNBD
import Glibc

/// Password hashes as /etc/shadow stores them, made on the host with libcrypt (libxcrypt), so the clear
/// text never enters the image, a command line or a log.
public enum PasswordHash {
    public enum Method: String, CaseIterable, Sendable {
        /// `$y$`: the default of Debian 11+, Fedora 35+, Arch; older images' PAM may not know it.
        case yescrypt
        /// `$6$`: understood by every glibc-based distribution of the last fifteen years.
        case sha512

        var prefix: String {
            switch self {
            case .yescrypt: "$y$"
            case .sha512: "$6$"
            }
        }
    }

    /// A fresh hash of `password` with a random salt.
    public static func make(_ password: String, method: Method) throws -> String {
        try hash { out, size in cnbd_crypt_hash(password, method.prefix, out, size) }
            .mapError { $0.withHint("libcrypt cannot make \(method.rawValue) hashes") }.get()
    }

    /// Whether `password` hashed with the method and salt of `stored` gives `stored` (what login checks).
    public static func verify(_ password: String, against stored: String) -> Bool {
        guard let again = try? hash({ out, size in cnbd_crypt_with_setting(password, stored, out, size) }).get() else { return false }
        return again == stored
    }

    private static func hash(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> Result<String, SystemError> {
        var buffer = [CChar](repeating: 0, count: 512)
        let result = Result { () throws(SystemError) in
            try syscall("crypt") { buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) } }
        }
        defer { for index in buffer.indices { buffer[index] = 0 } }
        return result.map { _ in String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }
}
