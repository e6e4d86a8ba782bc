import ArgumentParser
import SpladeCLI
import SpladeCore

@main
struct SpladeTokenize: SpladeTool {
    static let configuration = CommandConfiguration(
        commandName: "splade-tokenize",
        abstract: "Turn texts into BERT token ids, exactly as Hugging Face transformers does.",
        discussion: """
            Reads JSON Lines records ({"id": ..., "text": ...}) or plain lines and writes one JSON object per \
            record: {"id":...,"input_ids":[...]} ([CLS] ... [SEP], truncated to --max-length), with "tokens" \
            added by --tokens; the record's other fields (all but the id, the text fields read, input_ids \
            and tokens) pass through after the id, and splade-encode passes them on. The tokenizer comes from the model directory: BertJapaneseTokenizer \
            (NFKC, MeCab with unidic-lite, WordPiece; the tokenizer of japanese-splade-base-v1) or \
            BertTokenizer (English BERT models). Special tokens written in the text ([SEP], [MASK], ...) \
            are kept whole. Output order is input order, whatever the number of threads.

            EXAMPLES
              splade-tokenize --model models/japanese-splade-base-v1 < docs.jsonl \\
                > tokens.jsonl
              splade-tokenize --model M --field title,text --tokens -i corpus.jsonl.zst \\
                | head -3
              splade-tokenize --model M --lines --tokens < sentences.txt

            \(ExitStatus.table)
            """)

    @OptionGroup(title: "Model") var tokenizerOptions: TokenizerOptions
    @OptionGroup(title: "Input") var textOptions: TextInputOptions
    @OptionGroup(title: "Input and output") var stream: StreamOptions

    @Flag(help: "Add the token strings (\"tokens\") to each output record.")
    var tokens = false

    func run() throws {
        try ToolMain.run("splade-tokenize") {
            let tokenizer = try tokenizerOptions.loadTokenizer()
            let sessions = try (0..<stream.threads).map { _ throws(SpladeError) in try tokenizer.makeSession() }
            var format = textOptions.format
            format.writtenFields = ["input_ids", "tokens"]
            let maxLength = tokenizerOptions.maxLength
            let withTokens = tokens
            try LinePipeline(options: stream, progressLabel: "tokenize", unitName: "tokens", skipsBlankLines: !format.plainLines,
                             inputDirectories: [try tokenizerOptions.modelDirectory()])
                .run(workers: sessions) {
                session, line, file in
                Result { () throws(SpladeError) in
                    let record = try format.parse(line, file: file)
                    let ids = try session.encode(record.text, maxLength: maxLength)
                    var json = JSONWriter()
                    json.appendRaw("{\"id\":")
                    json.appendValue(record.id)
                    json.appendMembers(record.otherFields)
                    json.appendRaw(",\"input_ids\":[")
                    for (i, id) in ids.enumerated() {
                        if i > 0 { json.appendRaw(",") }
                        json.appendInt(Int(id))
                    }
                    json.appendRaw("]")
                    if withTokens {
                        json.appendRaw(",\"tokens\":")
                        json.appendValue(.array(tokenizer.tokens(of: ids).map(JSONValue.string)))
                    }
                    json.appendRaw("}\n")
                    return (json.bytes, ids.count)
                }
            }
        }
    }
}
