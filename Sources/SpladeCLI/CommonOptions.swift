import ArgumentParser
import Foundation
import SpladeCore

/// Input, output and error-handling options shared by the tools that stream records.
public struct StreamOptions: ParsableArguments {
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Input file; '-' is standard input. zstd-compressed input is detected.", valueName: "file"),
            completion: .file())
    public var input: String = "-"

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp(outputFileHelp, valueName: "file"),
            completion: .file())
    public var output: String = "-"

    @Flag(help: "Warn about and count invalid records instead of stopping with status 65.")
    public var skipInvalid = false

    @Flag(help: ArgumentHelp(progressHelp))
    public var progress = false

    @Option(name: .customLong("threads"), help: ArgumentHelp("Worker threads (default: the number of cores).", valueName: "n"))
    public var threadCount: Int?
    /// --threads, else the number of cores (kept out of the option's default, so --help and the man pages
    /// do not print this machine's count).
    public var threads: Int { threadCount ?? Self.defaultThreads }

    public init() {}

    public func validate() throws {
        if ToolMain.hasUnknownLongOption { return }  // the parser names it
        try Self.validateCount(threads, option: "--threads", limit: Self.maxThreads)
        try Self.validateFileNames(inputs: [input], output: output)
        try Self.validateOneInput()
    }

    /// -i given twice would read only the last (the parser keeps one value), where splade-index merges its -i files:
    /// a usage error in the tools that read one input.
    public static func validateOneInput(arguments: [String] = CommandLine.arguments) throws {
        let options = arguments.dropFirst().prefix { $0 != "--" }
        let named = options.filter { $0 == "-i" || $0 == "--input" || $0.hasPrefix("--input=") || $0.hasPrefix("-i=") }.count
        guard named <= 1 else {
            throw ValidationError("-i is given \(named) times, but this tool reads one input (concatenate the files into it: cat A B | …)")
        }
    }

    /// The largest --threads and --batch-size taken: beyond them a value is a typo that would exhaust memory (a thread
    /// stack, a batch of texts each) or overflow the sizes computed from it.
    public static let maxThreads = 1024, maxBatchSize = 8192
    /// Without --threads: the cores, up to `maxThreads`.
    public static var defaultThreads: Int { min(ProcessInfo.processInfo.activeProcessorCount, maxThreads) }

    /// A usage error unless 1 ≤ `value` ≤ `limit`.
    public static func validateCount(_ value: Int, option: String, limit: Int) throws {
        guard (1...limit).contains(value) else { throw ValidationError("\(option) must be between 1 and \(limit), not \(value)") }
    }

    /// An empty -i or -o is a usage error: it would be found out only when the output is moved into place, after all
    /// the work. `outputIsStream`: '-' names standard output (not so for an index directory).
    public static func validateFileNames(inputs: [String], output: String?, outputIsStream: Bool = true) throws {
        if inputs.contains("") { throw ValidationError("-i needs a file name ('-' is standard input)") }
        if output?.isEmpty == true {
            throw ValidationError("-o needs a file name" + (outputIsStream ? " ('-' is standard output)" : ""))
        }
    }
}

extension ComputeDevice: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public static var allValueStrings: [String] { ["cpu", "cuda", "auto"] }
    public static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
}

extension GPUPrecision: ExpressibleByArgument {}

/// The help of every tool's -o/--output (OutputSink says how each kind of path is written).
public let progressHelp = "Show progress on standard error even when it is not a terminal (then a plain line every 10 s and one at the end)."
public let outputFileHelp = "Output file, written atomically ('-' is standard output; a device or pipe such as /dev/null is written directly)."

/// --device and --precision: where the model runs, and how a GPU multiplies.
public struct DeviceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Where the model runs: cpu, cuda (GPU 0), cuda:N, or auto (a GPU when this build has CUDA support and the machine a GPU, else the CPU). Without CUDA support in the build, or without a GPU, cuda exits with status 69.",
                               valueName: "device"))
    public var device: ComputeDevice = .cpu

    @Option(help: ArgumentHelp("How a GPU multiplies matrices: fp32 (the default); tf32 (TF32 tensor cores, about 1e-3 relative error per product, as PyTorch's allow_tf32); bf16 (bfloat16 weights and product inputs with float32 sums, about 1e-2, as torch.autocast; training keeps float32 master weights, gradients and optimizer state). splade-train defaults to the configuration's bf16: true or tf32: true. The CPU computes in fp32: tf32 or bf16 with --device cpu is a usage error, with auto and no GPU a warning.",
                               valueName: "p"))
    public var precision: GPUPrecision?

    public init() {}

    /// The device made concrete (checked before any output is written), with a note on standard error
    /// when it is a GPU, and the precision in force: --precision, else `configured` (splade-train: what
    /// the configuration `source` asks for), else fp32. The CPU computes in fp32: --precision tf32 or bf16
    /// with --device cpu is a usage error, with auto (no GPU) or from the configuration a warning.
    public func resolve(configured: GPUPrecision? = nil, source: String = "the configuration")
        throws(SpladeError) -> (device: ComputeDevice, precision: GPUPrecision) {
        let requested = precision ?? configured ?? .fp32
        let resolved = try device.resolved(warn: Diagnostics.warning)
        if let note = resolved.usageNote() { Diagnostics.note(note + ", \(requested.rawValue)") }
        guard resolved == .cpu else {
            try resolved.use(requested)
            return (resolved, requested)
        }
        if let precision, precision != .fp32 {
            guard device == .auto else {
                throw SpladeError(.usage, "--precision \(precision.rawValue) applies to GPUs only",
                                  hint: "use it with --device cuda or auto")
            }
            Diagnostics.warning("--precision \(precision.rawValue) applies to GPUs only: the CPU computes in fp32")
        } else if precision == nil, let configured, configured != .fp32 {
            Diagnostics.warning("\(source): \(configured.rawValue): true applies to GPUs only: the CPU computes in fp32")
        }
        return (.cpu, .fp32)
    }

    /// The SPLADE encoder of `directory` on the resolved device, in --precision.
    public func makeEncoder(directory: String, threads: Int) throws(SpladeError) -> any SpladeEncoding {
        let (device, precision) = try resolve()
        return try device.makeEncoder(directory: directory, threads: threads, precision: precision)
    }
}

/// How text records are read: JSON Lines fields, or plain lines.
public struct TextInputOptions: ParsableArguments {
    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("Text field; repeat or separate with commas to join several with a space (--field title,text).",
                               valueName: "name"))
    public var field: [String] = []

    @Option(name: .customLong("id-field"),
            help: ArgumentHelp("Id field of JSON Lines input (a string or number, passed through; default: id).", valueName: "name"))
    public var idFieldOption: String?
    /// --id-field, else "id".
    public var idField: String { idFieldOption ?? "id" }

    @Flag(help: "Input is plain text, one text per line; the id is the line number.")
    public var lines = false

    public init() {}

    public var format: TextRecordFormat {
        TextRecordFormat(textFields: Self.fieldNames(field) ?? ["text"], idField: idField, plainLines: lines)
    }

    public func validate() throws {
        if ToolMain.hasUnknownLongOption { return }  // the parser names it
        if lines && !field.isEmpty { throw ValidationError("--field applies to JSON Lines input, not --lines") }
        if lines && idFieldOption != nil { throw ValidationError("--id-field applies to JSON Lines input (--lines numbers the lines)") }
        if idFieldOption?.isEmpty == true { throw ValidationError("--id-field takes a field name") }
        try Self.validateFieldNames(field)
    }

    /// The names --field options give (repeated or comma-separated), nil when none is given.
    public static func fieldNames(_ options: [String]) -> [String]? {
        options.isEmpty ? nil : options.flatMap { $0.split(separator: ",").map(String.init) }
    }

    /// A usage error for an empty name (`--field ''`, `--field title,,text`), which would otherwise read no field.
    public static func validateFieldNames(_ options: [String]) throws {
        if options.contains(where: { $0.split(separator: ",", omittingEmptySubsequences: false).contains(where: \.isEmpty) }) {
            throw ValidationError("--field takes field names, none of them empty")
        }
    }
}

/// The model directory and the tokenizer settings.
public struct TokenizerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Hugging Face model directory (tokenizer_config.json, vocab.txt or tokenizer.json). Default: $SPLADE_MODEL.",
                               valueName: "dir"),
            completion: .directory)
    public var model: String?

    @Option(help: ArgumentHelp("MeCab dictionary directory (unidic-lite 1.0.8). Default: $SPLADE_MECAB_DIC, the installed copy, the project's deps/, then Python's unidic_lite.",
                               valueName: "dir"),
            completion: .directory)
    public var mecabDic: String?

    @Option(name: .customLong("max-length"),
            help: ArgumentHelp("Maximum tokens per text including [CLS] and [SEP]; longer texts are truncated (default: 512).",
                               valueName: "n"))
    public var maxLengthOption: Int?
    /// --max-length, else 512.
    public var maxLength: Int { maxLengthOption ?? 512 }

    public init() {}

    public func validate() throws {
        if ToolMain.hasUnknownLongOption { return }  // the parser names it
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2 ([CLS] and [SEP])") }
    }

    /// --max-length for a model of `positions` positions: a longer one given is a usage error, said before any
    /// input is read; the default is cut to the model's positions.
    public func maxLength(positions: Int) throws(SpladeError) -> Int {
        guard let given = maxLengthOption else { return min(512, positions) }
        guard given <= positions else {
            throw SpladeError(.usage, "--max-length \(given) exceeds the model's \(positions) positions",
                              hint: "pass --max-length \(positions) or less")
        }
        return given
    }

    /// Whether a model directory was named (--model or $SPLADE_MODEL).
    public var hasModel: Bool { (try? modelDirectory()) != nil }

    /// The model directory: --model, else $SPLADE_MODEL.
    public func modelDirectory() throws(SpladeError) -> String {
        guard let directory = model ?? ProcessInfo.processInfo.environment["SPLADE_MODEL"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw SpladeError(.usage, "no model: pass --model DIR or set SPLADE_MODEL",
                              hint: "a Hugging Face model directory, e.g. a download of hotchpotch/japanese-splade-base-v1")
        }
        return directory
    }

    /// Loads the tokenizer, printing its warnings.
    public func loadTokenizer() throws(SpladeError) -> Tokenizer {
        do {
            return try Self.loadTokenizer(modelDirectory: try modelDirectory(), mecabDic: mecabDic)
        } catch where model == nil && error.kind == .missingInput && error.hint == nil && error.location == (try? modelDirectory()) {
            // A stale $SPLADE_MODEL names no --model on the command line: say where the directory came from.
            var error = error
            error.hint = "the model directory comes from $SPLADE_MODEL; pass --model DIR or set it anew"
            throw error
        }
    }

    /// Loads the tokenizer of `modelDirectory`; the MeCab dictionary is `mecabDic`, else
    /// $SPLADE_MECAB_DIC, else found by `DictionarySearch`. Prints the tokenizer's warnings.
    public static func loadTokenizer(modelDirectory directory: String, mecabDic: String?) throws(SpladeError) -> Tokenizer {
        let explicit = mecabDic ?? ProcessInfo.processInfo.environment["SPLADE_MECAB_DIC"].flatMap { $0.isEmpty ? nil : $0 }
        let tokenizer = try Tokenizer.load(modelDirectory: directory) { () throws(SpladeError) in
            try MeCabDictionary.locate(explicit: explicit, candidates: DictionarySearch.candidates(),
                                       lastResort: DictionarySearch.pythonUnidicLite, hint: DictionarySearch.hint)
        }
        tokenizer.warnings.forEach(Diagnostics.warning)
        return tokenizer
    }
}

/// Where a MeCab dictionary is looked for when none is named.
enum DictionarySearch {
    static let hint = "run `make deps` in the splade source tree, or `pip install unidic-lite==1.0.8`, "
        + "or pass --mecab-dic DIR (a directory with sys.dic, unk.dic, char.bin and matrix.bin)"

    static func candidates() -> [MeCabDictionary.Candidate] {
        var result: [MeCabDictionary.Candidate] = []
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let prefix = URL(fileURLWithPath: executable).deletingLastPathComponent().deletingLastPathComponent()
            result.append(.init(origin: "the installed copy", directory: prefix.path + "/share/splade/unidic-lite"))
        }
        result.append(.init(origin: "the project's deps/", directory: projectRoot + "/deps/unidic-lite"))
        return result
    }

    /// The source tree this binary was built from (`make deps` unpacks the dictionary there).
    static var projectRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// `unidic_lite.DICDIR` of the first python3 on PATH, if it has the package.
    static func pythonUnidicLite() -> MeCabDictionary.Candidate? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import unidic_lite; print(unidic_lite.DICDIR)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let directory = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines)
        else { return nil }
        return .init(origin: "Python's unidic_lite", directory: directory)
    }
}
