function __splade-index_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-index_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __splade-index_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-index_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __splade-index_parse_tokens -S
    set -l unparsed_tokens (__splade-index_tokens -pc)
    switch $unparsed_tokens[1]
    case 'splade-index'
        __splade-index_parse_subcommand 0 'model=' 'mecab-dic=' 'max-length=' 'i/input=+' 'o/output=' 'check=' 'add' 'delete=' 'compact' 'bm25' 'k1=' 'b=' 'field=+' 'keys=' 'block-size=' 'input-format=' 'export=' 'index=' 'mapping' 'index-name=' 'vespa-namespace=' 'reorder' 'no-reorder' 'min-documents=' 'memory-limit=' 'wait' 'quiet' 'progress' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __splade-index_parse_subcommand -r 1 
        end
    end
end

function __splade-index_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __splade-index_parse_subcommand -S -a positional_count
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

function __splade-index_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __splade-index_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__splade-index_tokens -p)
    if test -z "$(__splade-index_tokens -t)"
        set -l index (count (__splade-index_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'splade-index' -f
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" model' -l 'model' -d 'Hugging Face model directory (tokenizer_config.json, vocab.txt or tokenizer.json). Default: $SPLADE_MODEL.' -rfa '(__splade-index_complete_directories)'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" mecab-dic' -l 'mecab-dic' -d 'MeCab dictionary directory (unidic-lite 1.0.8). Default: $SPLADE_MECAB_DIC, the installed copy, the project\'s deps/, then Python\'s unidic_lite.' -rfa '(__splade-index_complete_directories)'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" max-length' -l 'max-length' -d 'Maximum tokens per text including [CLS] and [SEP]; longer texts are truncated (default: 512).' -rfka ''
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index"' -s 'i' -l 'input' -d 'Input file; \'-\' is standard input. zstd-compressed input is detected. Repeat to merge vector streams (shards).' -rF
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" o output' -s 'o' -l 'output' -d 'The index directory (created if needed); with --export, the file written (default: standard output).' -rfa '(__splade-index_complete_directories)'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" check' -l 'check' -d 'Verify the index in this directory and exit (status 65 when it is corrupt).' -rfa '(__splade-index_complete_directories)'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" add' -l 'add' -d 'Add the input\'s documents to the existing index (a document with an id already there replaces it).'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" delete' -l 'delete' -d 'Delete the documents whose ids are listed in this file, one per line, or given by its JSON Lines records\' "id" (the documents\' own file; \'-\': standard input).' -rF
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" compact' -l 'compact' -d 'Merge the index\'s segments into one, leaving deleted documents out (the same ids, impacts, block size and reordering setting; equal scores then follow the merged block order).'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" bm25' -l 'bm25' -d 'Index BM25 weights of token ids (splade-tokenize output) or texts instead of vectors.'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" k1' -l 'k1' -d 'BM25 term-frequency saturation.' -rfka ''
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" b' -l 'b' -d 'BM25 length normalisation.' -rfka ''
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index"' -l 'field' -d 'With --bm25 and text input: the text fields, joined with a space (--field title,text).' -rfka ''
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" keys' -l 'keys' -d 'JSON Lines vector keys and CIFF terms (read or exported): token strings (resolved with --model) or token ids.' -rfka 'tokens ids'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" block-size' -l 'block-size' -d 'Documents per block (1-256): smaller blocks prune more finely, larger ones cost less memory.' -rfka ''
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" input-format' -l 'input-format' -d 'The input\'s format: vectors (binary or JSON Lines, detected) or ciff (the default for a .ciff or .ciff.zst file).' -rfka 'vectors ciff'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" export' -l 'export' -d 'Write the index named by --index (or the input\'s vectors) in another engine\'s format to standard output (or -o).' -rfka 'ciff opensearch opensearch-seismic elasticsearch milvus qdrant vespa'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" index' -l 'index' -d 'With --export: the index directory to export (otherwise the vectors of --input).' -rfa '(__splade-index_complete_directories)'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" mapping' -l 'mapping' -d 'With --export ENGINE: print the index settings and mapping (collection schema, Vespa schema) to create instead of the documents.'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" index-name' -l 'index-name' -d 'With --export ENGINE: the OpenSearch/Elasticsearch index, Milvus/Qdrant collection or Vespa schema name.' -rfka ''
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" vespa-namespace' -l 'vespa-namespace' -d 'With --export vespa: the namespace of the document ids (id:NAMESPACE:NAME::ID).' -rfka ''
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" reorder' -l 'reorder' -d 'Group documents that share terms into the same blocks (recursive graph bisection), so searches skip more blocks; --no-reorder builds faster.'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" no-reorder' -l 'no-reorder' -d 'Group documents that share terms into the same blocks (recursive graph bisection), so searches skip more blocks; --no-reorder builds faster.'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" min-documents' -l 'min-documents' -d 'Refuse (status 65, the live index kept) a build from fewer documents, or a --delete that would leave fewer: the guard of a cron rebuild whose JSON Lines input was cut short upstream, or of a list of ids that names the whole collection.' -rfka ''
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" memory-limit' -l 'memory-limit' -d 'The documents a build (from vectors or --bm25), --add or --compact holds in memory at once, 8 bytes per weight (with --bm25, per distinct token of a document) plus the ids (e.g. 4G, 500M; default: 40% of the memory this process may use: the machine\'s, or its cgroup\'s limit). Beyond it, each full batch is spilled to the new generation\'s directory and becomes a segment of its own, reordered on its own: the same results, slower searches. A build\'s peak adds the segment it writes (up to twice the batch\'s documents, when they share few terms) and some 33 MiB for the tool.' -rfka ''
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" wait' -l 'wait' -d 'When another build holds the index\'s lock, wait for it instead of exiting with status 75.'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" quiet' -l 'quiet' -d 'No progress display, even on a terminal: only the one-line summary and any warnings (for cron logs).'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" progress' -l 'progress' -d 'Show progress on standard error even when it is not a terminal (then a plain line every 10 s and one at the end).'
complete -c 'splade-index' -n '__splade-index_should_offer_completions_for_flags_or_options "splade-index" h help' -s 'h' -l 'help' -d 'Show help information.'
