/// Path components as text, for paths that are not opened (templates, names in messages, lock keys).
public enum PathName {
    /// The last component, ignoring trailing slashes ("/a/b/" → "b").
    public static func base(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// Everything before the last component ("/a/b" → "/a", "b" → ".").
    public static func parent(_ path: String) -> String {
        let parts = path.split(separator: "/")
        guard parts.count > 1 else { return path.hasPrefix("/") ? "/" : "." }
        return (path.hasPrefix("/") ? "/" : "") + parts.dropLast().joined(separator: "/")
    }
}
