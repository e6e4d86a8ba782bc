function __splade-encode_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-encode_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __splade-encode_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-encode_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __splade-encode_parse_tokens -S
    set -l unparsed_tokens (__splade-encode_tokens -pc)
    switch $unparsed_tokens[1]
    case 'splade-encode'
        __splade-encode_parse_subcommand 0 'model=' 'mecab-dic=' 'max-length=' 'field=+' 'id-field=' 'lines' 'i/input=' 'o/output=' 'skip-invalid' 'progress' 'threads=' 'device=' 'precision=' 'batch-size=' 'top-k=' 'threshold=' 'format=' 'keys=' 'input-keys=' 'convert' 'timings' 'shard=' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __splade-encode_parse_subcommand -r 1 
        end
    end
end

function __splade-encode_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __splade-encode_parse_subcommand -S -a positional_count
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

function __splade-encode_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __splade-encode_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__splade-encode_tokens -p)
    if test -z "$(__splade-encode_tokens -t)"
        set -l index (count (__splade-encode_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'splade-encode' -f
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" model' -l 'model' -d 'Hugging Face model directory (tokenizer_config.json, vocab.txt or tokenizer.json). Default: $SPLADE_MODEL.' -rfa '(__splade-encode_complete_directories)'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" mecab-dic' -l 'mecab-dic' -d 'MeCab dictionary directory (unidic-lite 1.0.8). Default: $SPLADE_MECAB_DIC, the installed copy, the project\'s deps/, then Python\'s unidic_lite.' -rfa '(__splade-encode_complete_directories)'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" max-length' -l 'max-length' -d 'Maximum tokens per text including [CLS] and [SEP]; longer texts are truncated (default: 512).' -rfka ''
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode"' -l 'field' -d 'Text field; repeat or separate with commas to join several with a space (--field title,text).' -rfka ''
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" id-field' -l 'id-field' -d 'Id field of JSON Lines input (a string or number, passed through; default: id).' -rfka ''
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" lines' -l 'lines' -d 'Input is plain text, one text per line; the id is the line number.'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" i input' -s 'i' -l 'input' -d 'Input file; \'-\' is standard input. zstd-compressed input is detected.' -rF
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" o output' -s 'o' -l 'output' -d 'Output file, written atomically (\'-\' is standard output; a device or pipe such as /dev/null is written directly).' -rF
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" skip-invalid' -l 'skip-invalid' -d 'Warn about and count invalid records instead of stopping with status 65.'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" progress' -l 'progress' -d 'Show progress on standard error even when it is not a terminal (then a plain line every 10 s and one at the end).'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" threads' -l 'threads' -d 'Worker threads (default: the number of cores).' -rfka ''
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" device' -l 'device' -d 'Where the model runs: cpu, cuda (GPU 0), cuda:N, or auto (a GPU when this build has CUDA support and the machine a GPU, else the CPU). Without CUDA support in the build, or without a GPU, cuda exits with status 69.' -rfka 'cpu cuda auto'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" precision' -l 'precision' -d 'How a GPU multiplies matrices: fp32 (the default); tf32 (TF32 tensor cores, about 1e-3 relative error per product, as PyTorch\'s allow_tf32); bf16 (bfloat16 weights and product inputs with float32 sums, about 1e-2, as torch.autocast; training keeps float32 master weights, gradients and optimizer state). splade-train defaults to the configuration\'s bf16: true or tf32: true. The CPU computes in fp32: tf32 or bf16 with --device cpu is a usage error, with auto and no GPU a warning.' -rfka 'fp32 tf32 bf16'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" batch-size' -l 'batch-size' -d 'Sequences per forward pass (sorted by length within a window of input).' -rfka ''
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" top-k' -l 'top-k' -d 'Keep only the k largest weights of each vector (default: all).' -rfka ''
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" threshold' -l 'threshold' -d 'Drop weights below this value (default: none).' -rfka ''
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" format' -l 'format' -d 'Output format.' -rfka 'json binary'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" keys' -l 'keys' -d 'JSON Lines keys: token strings or token ids.' -rfka 'tokens ids'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" input-keys' -l 'input-keys' -d 'With --convert: the keys of JSON Lines input vectors (default: tokens with --model, else ids).' -rfka 'tokens ids'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" convert' -l 'convert' -d 'Read vectors (binary or JSON Lines) instead of texts and write them in --format (pruned by --top-k and --threshold when given).'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" timings' -l 'timings' -d 'Report on standard error where the time went (model loading, tokenization, encoder, SPLADE head) and which OpenBLAS kernels ran; on a GPU the model\'s time, how much of it the host waited for the GPU, and the first window\'s (with the GPU\'s one-time set-up).'
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" shard' -l 'shard' -d 'Encode only shard I of N (0-based): the records r with r mod N = I (see the discussion).' -rfka ''
complete -c 'splade-encode' -n '__splade-encode_should_offer_completions_for_flags_or_options "splade-encode" h help' -s 'h' -l 'help' -d 'Show help information.'
