import ArgumentParser
import Foundation
import SpladeCLI
import SpladeCore

@main
struct SpladeNoise: SpladeTool {
    static let configuration = CommandConfiguration(
        commandName: "splade-noise",
        abstract: "Derive the noise-token list of SPLADE training from a model's vocabulary.",
        discussion: """
            The reference trainer penalises the weights of "noise tokens": punctuation, brackets, \
            arrows, box drawing, small kana; the japanese-splade-base-v1 config lists 320 by hand. \
            splade-noise derives such a list from the model's vocabulary. Each whole-word token is \
            analysed with MeCab and the tokenizer's dictionary (unidic-lite) and kept when every \
            word of it is tagged 補助記号 or 空白 (UniDic's punctuation, brackets, symbols and \
            whitespace), or when all its characters are Unicode punctuation or symbols (P*, S*). \
            UniDic's 記号 is not used: a lone 新, 時 or α gets it. ## continuations are left out \
            (##ー and ##々 are parts of ordinary words), as are bracketed entries ([PAD], \
            [unused0]). A model whose tokenizer uses no MeCab (English BERT) gets the character \
            rule only. On bert-base-japanese-v3 the list has 341 tokens: 310 of the v1 config's \
            319, and 31 more: quotation marks, ‰, symbol pairs such as ")," and "--", and a few \
            kana and kanji that UniDic tags as symbols (ィ, ツ, 〆, from emoticons and the like), \
            which are worth a look before training with the list.

            Output, in vocabulary order (--format):
              yaml  noise_tokens: "、 。 ..."   (the line splade-train's config takes; a token
                    holding whitespace cannot be in it: left out, with a warning)
              json  ["、","。",...]
              ids   one token id per line

            EXAMPLES
              splade-noise --model models/japanese-splade-base-v1 > noise.yaml
              splade-noise --model M --special-tokens --small-kana --format json | jq .
              splade-noise --model M --extra my-tokens.txt --format ids -o noise-ids.txt

            \(ExitStatus.table)
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case yaml, json, ids
    }

    @Option(help: ArgumentHelp("Hugging Face model directory (tokenizer_config.json, vocab.txt or tokenizer.json). Default: $SPLADE_MODEL.",
                               valueName: "dir"),
            completion: .directory)
    var model: String?

    @Option(help: ArgumentHelp("MeCab dictionary directory (unidic-lite 1.0.8). Default: $SPLADE_MECAB_DIC, the installed copy, the project's deps/, then Python's unidic_lite.",
                               valueName: "dir"),
            completion: .directory)
    var mecabDic: String?

    @Option(help: ArgumentHelp("Output format.", valueName: "yaml|json|ids"))
    var format: Format = .yaml

    @Flag(help: "Add [CLS], [SEP] and [UNK].")
    var specialTokens = false

    @Flag(help: "Add the small kana that are tokens of their own (ぁ ぃ ... っ ァ ... ッ ...).")
    var smallKana = false

    @Option(help: ArgumentHelp("Add the tokens of a file (separated by whitespace, as in a noise_tokens string); each must be in the vocabulary.",
                               valueName: "file"),
            completion: .file())
    var extra: String?

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp(outputFileHelp, valueName: "file"),
            completion: .file())
    var output = "-"

    func run() throws {
        try ToolMain.run("splade-noise") {
            var tokenizerOptions = TokenizerOptions()
            tokenizerOptions.model = model
            tokenizerOptions.mecabDic = mecabDic
            let tokenizer = try tokenizerOptions.loadTokenizer()
            let dictionary: MeCabDictionary?
            if case .japanese(let japaneseDictionary, _, _) = tokenizer.family {
                dictionary = japaneseDictionary
            } else {
                dictionary = nil
            }
            let extraTokens = try extra.map { path throws(SpladeError) in try Self.readTokens(path, vocabulary: tokenizer.vocabulary) }
            let options = NoiseTokenOptions(specialTokens: specialTokens, smallKana: smallKana, extraTokens: extraTokens ?? [])
            let ids = try NoiseTokens.derive(vocabulary: tokenizer.vocabulary, dictionary: dictionary,
                                             specialIds: [tokenizer.clsId, tokenizer.sepId, tokenizer.unknownId],
                                             options: options)
            let tokens = tokenizer.tokens(of: ids)
            let sink = try OutputSink(path: output, inputs: [extra].compactMap { $0 }, inputDirectories: [try tokenizerOptions.modelDirectory()])
            switch format {
            case .yaml:
                let (line, leftOut) = NoiseTokens.yaml(tokens)
                // An empty string would not be no list: the trainers split it into one empty token, [UNK].
                guard leftOut.count < tokens.count else {
                    throw SpladeError(.badInput, tokens.isEmpty ? "the vocabulary has no noise tokens, and noise_tokens cannot be empty"
                                                                : "every noise token holds whitespace, which noise_tokens cannot hold",
                                      location: try tokenizerOptions.modelDirectory(), hint: "--format json writes the list as it is")
                }
                if !leftOut.isEmpty {
                    Diagnostics.warning("\(counted(leftOut.count, "token")) holding whitespace left out of noise_tokens, a string the "
                                        + "trainers split at whitespace: " + leftOut.map(JSONValue.string).map(\.jsonText).joined(separator: ", "),
                                        hint: "--format json lists them; splade-train also takes noise_tokens as a YAML list")
                }
                try sink.write(line)
            case .json:
                var json = JSONWriter()
                json.appendValue(.array(tokens.map(JSONValue.string)))
                json.appendRaw("\n")
                try sink.write(json.bytes)
            case .ids:
                try sink.write(ids.map { "\($0)\n" }.joined())
            }
            try sink.commit()
            Diagnostics.note("\(ids.count) noise tokens of \(tokenizer.vocabulary.count)")
        }
    }

    /// The whitespace-separated tokens of a file (`-` is standard input), each in `vocabulary` (status 65 at its line).
    static func readTokens(_ path: String, vocabulary: Vocabulary) throws(SpladeError) -> [String] {
        let reader = try LineReader(path: path)
        var tokens: [String] = []
        while let line = try reader.next() {
            let location = "\(reader.name):\(line.number)"
            guard UTF8Validation.isValid(line.bytes) else { throw SpladeError(.badInput, "invalid UTF-8", location: location) }
            // Split on scalars, not characters: a combining mark (ิ) would join the space before it.
            for scalars in String(decoding: line.bytes, as: UTF8.self).unicodeScalars.split(whereSeparator: \.properties.isWhitespace) {
                let token = String(String.UnicodeScalarView(scalars))
                do { _ = try NoiseTokens.extraTokenId(token, in: vocabulary) } catch { throw error.located(at: location) }
                tokens.append(token)
            }
        }
        return tokens
    }
}
