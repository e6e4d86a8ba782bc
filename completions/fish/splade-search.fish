function __splade-search_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-search_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __splade-search_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-search_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __splade-search_parse_tokens -S
    set -l unparsed_tokens (__splade-search_tokens -pc)
    switch $unparsed_tokens[1]
    case 'splade-search'
        __splade-search_parse_subcommand 0 'index=+' 'model=' 'mecab-dic=' 'max-length=' 'field=+' 'id-field=' 'lines' 'device=' 'precision=' 'vectors' 'keys=' 'tokens-only' 'k=' 'alpha=' 'query-terms=' 'fusion=' 'weight=+' 'rrf-k=' 'format=' 'index-name=' 'tag=' 'with-text=' 'text-field=+' 'batch-size=' 'i/input=' 'o/output=' 'threads=' 'timings' 'progress' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __splade-search_parse_subcommand -r 1 
        end
    end
end

function __splade-search_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __splade-search_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __splade-search_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __splade-search_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__splade-search_tokens -p)
    if test -z "$(__splade-search_tokens -t)"
        set -l index (count (__splade-search_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'splade-search' -f
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search"' -l 'index' -d 'An index directory (repeat for shards or for fusion).' -rfa '(__splade-search_complete_directories)'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" model' -l 'model' -d 'Hugging Face model directory (tokenizer_config.json, vocab.txt or tokenizer.json). Default: $SPLADE_MODEL.' -rfa '(__splade-search_complete_directories)'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" mecab-dic' -l 'mecab-dic' -d 'MeCab dictionary directory (unidic-lite 1.0.8). Default: $SPLADE_MECAB_DIC, the installed copy, the project\'s deps/, then Python\'s unidic_lite.' -rfa '(__splade-search_complete_directories)'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" max-length' -l 'max-length' -d 'Maximum tokens per text including [CLS] and [SEP]; longer texts are truncated (default: 512).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search"' -l 'field' -d 'Text field; repeat or separate with commas to join several with a space (--field title,text).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" id-field' -l 'id-field' -d 'Id field of JSON Lines input (a string or number, passed through; default: id).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" lines' -l 'lines' -d 'Input is plain text, one text per line; the id is the line number.'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" device' -l 'device' -d 'Where the model runs: cpu, cuda (GPU 0), cuda:N, or auto (a GPU when this build has CUDA support and the machine a GPU, else the CPU). Without CUDA support in the build, or without a GPU, cuda exits with status 69.' -rfka 'cpu cuda auto'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" precision' -l 'precision' -d 'How a GPU multiplies matrices: fp32 (the default); tf32 (TF32 tensor cores, about 1e-3 relative error per product, as PyTorch\'s allow_tf32); bf16 (bfloat16 weights and product inputs with float32 sums, about 1e-2, as torch.autocast; training keeps float32 master weights, gradients and optimizer state). splade-train defaults to the configuration\'s bf16: true or tf32: true. The CPU computes in fp32: tf32 or bf16 with --device cpu is a usage error, with auto and no GPU a warning.' -rfka 'fp32 tf32 bf16'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" vectors' -l 'vectors' -d 'Queries are sparse vectors (binary stream or JSON Lines), not texts.'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" keys' -l 'keys' -d 'Keys of JSON Lines query vectors: token strings (resolved with --model or the index\'s stored vocabulary) or token ids.' -rfka 'tokens ids'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" tokens-only' -l 'tokens-only' -d 'Tokenizer-only queries: each occurrence of a token weighs 1 (a repeated token its count), no model is run.'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" k' -s 'k' -d 'Documents per query.' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" alpha' -l 'alpha' -d '1: exact (rank-safe). Below 1: approximate, faster, lower recall (see the discussion).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" query-terms' -l 'query-terms' -d 'Search with only the N largest weights of each query (approximate: fewer blocks to bound and score).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" fusion' -l 'fusion' -d 'Fuse the indexes\' lists instead of merging shards.' -rfka 'rrf sum'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search"' -l 'weight' -d 'Fusion weight of each --index, in order (default 1 each).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" rrf-k' -l 'rrf-k' -d 'With --fusion rrf: the constant k of 1 / (k + rank) (default 60, as Cormack et al. and ranx).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" format' -l 'format' -d 'Output format: a TREC run (qid Q0 docid rank score tag), JSON Lines ({"qid","docno","rank","score"}), or a search engine\'s request body per query (no --index; see the discussion).' -rfka 'trec json opensearch opensearch-seismic elasticsearch milvus qdrant vespa'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" index-name' -l 'index-name' -d 'With --format milvus or vespa: the collection or schema the query bodies name (as splade-index --export --index-name).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" tag' -l 'tag' -d 'The run tag (TREC column 6; default: the index kind, splade or bm25, or with --fusion the method, rrf or sum).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" with-text' -l 'with-text' -d 'JSON Lines collection ({"id","text"}) whose text is added to JSON hits as "text".' -rF
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search"' -l 'text-field' -d 'Fields of --with-text records joined into "text" (default: text).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" batch-size' -l 'batch-size' -d 'Queries per model batch.' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" i input' -s 'i' -l 'input' -d 'Queries; \'-\' is standard input. zstd-compressed input is detected.' -rF
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" o output' -s 'o' -l 'output' -d 'Output file, written atomically (\'-\' is standard output; a device or pipe such as /dev/null is written directly).' -rF
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" threads' -l 'threads' -d 'Worker threads, one query each (default: the number of cores).' -rfka ''
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" timings' -l 'timings' -d 'Report on standard error the search latency per query (mean, p50, p99; encoding excluded).'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" progress' -l 'progress' -d 'Show progress on standard error even when it is not a terminal (then a plain line every 10 s and one at the end).'
complete -c 'splade-search' -n '__splade-search_should_offer_completions_for_flags_or_options "splade-search" h help' -s 'h' -l 'help' -d 'Show help information.'
