import Glibc
import NBDCore

func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
    let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
    try file.writeAll(Array(text.utf8))
    try file.close()
}
