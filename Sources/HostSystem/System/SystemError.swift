import Glibc

/// A failed system call: which call, on which path or device, and errno's meaning, plus an optional hint
/// that tells the user how to fix it.
public struct SystemError: Error, CustomStringConvertible, Equatable, Sendable {
    public let operation: String
    public let path: String?
    public let errno: Int32
    public let hint: String?

    public init(_ operation: String, path: String? = nil, errno: Int32, hint: String? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.hint = hint
    }

    /// The symbolic name of the errno value (EBUSY), for messages and for matching in tests.
    public var errnoName: String { Errno.name(errno) }

    public var description: String {
        var text = operation
        if let path { text += " \(path)" }
        text += ": \(Errno.message(errno)) (\(errnoName))"
        if let hint { text += "; \(hint)" }
        return text
    }

    /// The same error with a hint added, for callers that know the context.
    public func withHint(_ hint: String) -> SystemError {
        SystemError(operation, path: path, errno: errno, hint: hint)
    }
}

public enum Errno {
    public static func message(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    public static func name(_ code: Int32) -> String {
        switch code {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case ENXIO: return "ENXIO"
        case E2BIG: return "E2BIG"
        case ENOEXEC: return "ENOEXEC"
        case EBADF: return "EBADF"
        case ECHILD: return "ECHILD"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EFAULT: return "EFAULT"
        case EBUSY: return "EBUSY"
        case EEXIST: return "EEXIST"
        case EXDEV: return "EXDEV"
        case ENODEV: return "ENODEV"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case ENFILE: return "ENFILE"
        case EMFILE: return "EMFILE"
        case ENOTTY: return "ENOTTY"
        case EFBIG: return "EFBIG"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case EPIPE: return "EPIPE"
        case ERANGE: return "ERANGE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ENOSYS: return "ENOSYS"
        case ENOTEMPTY: return "ENOTEMPTY"
        case ELOOP: return "ELOOP"
        case EPROTO: return "EPROTO"
        case EOVERFLOW: return "EOVERFLOW"
        case ENOTSUP: return "ENOTSUP"
        case ECONNREFUSED: return "ECONNREFUSED"
        case ECONNRESET: return "ECONNRESET"
        case ETIMEDOUT: return "ETIMEDOUT"
        case ESHUTDOWN: return "ESHUTDOWN"
        case ENOTCONN: return "ENOTCONN"
        default: return "errno \(code)"
        }
    }
}
