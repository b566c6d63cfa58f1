import Glibc

/// The one place where system calls are made from Swift: retries EINTR, turns -1 into a `SystemError` that
/// names the call and the path or device.
///
/// `body` must return -1 and set errno on failure, like the C call it wraps.
@inline(__always)
@discardableResult
public func syscall<Result: FixedWidthInteger>(
    _ operation: String,
    path: String? = nil,
    _ body: () -> Result
) throws(SystemError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(operation, path: path, errno: code)
    }
}

/// For calls that report failure as a negative errno return value instead of -1 and errno (libnl shims,
/// cnbd_* helpers that return -errno).
@discardableResult
public func syscallNegativeErrno<Result: FixedWidthInteger & SignedInteger>(
    _ operation: String,
    path: String? = nil,
    _ body: () -> Result
) throws(SystemError) -> Result {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Int32(truncatingIfNeeded: -result)
        if code == EINTR { continue }
        throw SystemError(operation, path: path, errno: code)
    }
}
