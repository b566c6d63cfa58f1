import Glibc

/// Formats a time with a Go reference layout ("2006-01-02T15:04:05Z07:00"), which is what Packer's
/// `{{isotime "..."}}` takes. Times are UTC, as Packer's are.
public enum GoTimeLayout: Sendable {
    public static let rfc3339 = "2006-01-02T15:04:05Z07:00"

    // Longest tokens first so "2006" wins over "2" and "January" over "Jan".
    private static let tokens = [
        "January", "Monday", "Z07:00", "-07:00", "-0700", "2006", ".000000000", ".000000", ".000",
        "Jan", "Mon", "MST", "Z0700", "-07", "002", "__2", "_2", "01", "02", "03", "04", "05", "06", "15",
        "PM", "pm", "1", "2", "3", "4", "5",
    ]
    private static let months = ["January", "February", "March", "April", "May", "June", "July", "August",
                                 "September", "October", "November", "December"]
    private static let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    public static func format(seconds: Int, nanoseconds: Int = 0, layout: String) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        var output = ""
        var rest = Substring(layout)
        while !rest.isEmpty {
            if let token = tokens.first(where: { rest.hasPrefix($0) }) {
                output += render(token, parts, nanoseconds)
                rest = rest.dropFirst(token.count)
            } else {
                output.append(rest.removeFirst())
            }
        }
        return output
    }

    private static func pad(_ value: Int32, _ width: Int, _ filler: Character = "0") -> String {
        let text = String(value)
        return String(repeating: filler, count: max(0, width - text.count)) + text
    }

    private static func render(_ token: String, _ t: tm, _ nanoseconds: Int) -> String {
        let hour12 = t.tm_hour % 12 == 0 ? 12 : t.tm_hour % 12
        switch token {
        case "January": return months[Int(t.tm_mon)]
        case "Jan": return String(months[Int(t.tm_mon)].prefix(3))
        case "Monday": return days[Int(t.tm_wday)]
        case "Mon": return String(days[Int(t.tm_wday)].prefix(3))
        case "2006": return pad(t.tm_year + 1900, 4)
        case "06": return pad((t.tm_year + 1900) % 100, 2)
        case "01": return pad(t.tm_mon + 1, 2)
        case "1": return String(t.tm_mon + 1)
        case "02": return pad(t.tm_mday, 2)
        case "_2": return pad(t.tm_mday, 2, " ")
        case "2": return String(t.tm_mday)
        case "002": return pad(t.tm_yday + 1, 3)
        case "__2": return pad(t.tm_yday + 1, 3, " ")
        case "15": return pad(t.tm_hour, 2)
        case "03": return pad(hour12, 2)
        case "3": return String(hour12)
        case "04": return pad(t.tm_min, 2)
        case "4": return String(t.tm_min)
        case "05": return pad(t.tm_sec, 2)
        case "5": return String(t.tm_sec)
        case "PM": return t.tm_hour < 12 ? "AM" : "PM"
        case "pm": return t.tm_hour < 12 ? "am" : "pm"
        case "MST": return "UTC"
        case "Z07:00", "Z0700": return "Z"
        case "-07:00": return "+00:00"
        case "-0700": return "+0000"
        case "-07": return "+00"
        default: // fractional seconds: ".000", ".000000", ".000000000"
            let digits = token.count - 1
            let scaled = nanoseconds / Int(pow(10.0, Double(9 - digits)))
            return "." + pad(Int32(scaled), digits)
        }
    }
}
