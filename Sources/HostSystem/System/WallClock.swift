import Glibc

public enum WallClock {
    public static var seconds: Int { Int(time(nil)) }
}

/// The process environment, read once per plan (templates see it through `{{env}}` in variables).
public enum ProcessEnvironmentSnapshot {
    public static var current: [String: String] { ProcessEnvironment.current }
}
