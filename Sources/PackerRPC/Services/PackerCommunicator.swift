import Glibc
import HostSystem

/// Packer's Communicator (Start, Upload, UploadDir, Download, DownloadDir) as the plugin serves it. The
/// plugin executable implements it over the Builder library's chroot communicator; tests use fakes.
///
/// Image-side paths are absolute paths inside the image.
public protocol PackerCommunicator: AnyObject, Sendable {
    /// Runs `command` with `/bin/sh -c` to completion, streaming its output; cancelling `cancellation`
    /// stops it and the call then returns the status it ended with.
    func run(_ command: String, stdin: Int32?, stdout: @escaping @Sendable (ArraySlice<UInt8>) -> Void,
             stderr: @escaping @Sendable (ArraySlice<UInt8>) -> Void, cancellation: Cancellation) throws -> ExitStatus
    /// Writes the host file `file` to `destination`; `mode` nil keeps an existing file's mode.
    func upload(file: String, to destination: String, mode: mode_t?) throws
    /// Packer's UploadDir, with its trailing-slash rule.
    func uploadDirectory(_ source: String, to destination: String, excluding: [String]) throws
    /// Streams the file `source` in the image to `sink`, in chunks.
    func download(_ source: String, into sink: (ArraySlice<UInt8>) throws -> Void) throws
    /// Packer's DownloadDir, with the same trailing-slash rule.
    func downloadDirectory(_ source: String, to destination: String, excluding: [String]) throws
}
