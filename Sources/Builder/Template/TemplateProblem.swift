/// One thing wrong with a template, at a location such as `builders[0].source_image`.
public struct TemplateProblem: Equatable, Sendable, CustomStringConvertible {
    public let location: String
    public let message: String

    public init(_ location: String, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { location.isEmpty ? message : "\(location): \(message)" }
}

/// Every problem found in a template, reported together like `packer validate` does.
public struct TemplateErrors: Error, CustomStringConvertible {
    public let problems: [TemplateProblem]

    public init(_ problems: [TemplateProblem]) { self.problems = problems }

    public var description: String {
        let noun = problems.count == 1 ? "1 error" : "\(problems.count) errors"
        return "Template validation failed with \(noun):\n" + problems.map { "* \($0)" }.joined(separator: "\n")
    }
}

/// Collects problems while a template is read, so one pass reports all of them.
public final class ProblemList {
    public private(set) var problems: [TemplateProblem] = []

    public init() {}

    public func add(_ location: String, _ message: String) { problems.append(TemplateProblem(location, message)) }

    public func throwIfAny() throws { if !problems.isEmpty { throw TemplateErrors(problems) } }
}
