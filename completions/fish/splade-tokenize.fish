function __splade-tokenize_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-tokenize_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __splade-tokenize_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-tokenize_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __splade-tokenize_parse_tokens -S
    set -l unparsed_tokens (__splade-tokenize_tokens -pc)
    switch $unparsed_tokens[1]
    case 'splade-tokenize'
        __splade-tokenize_parse_subcommand 0 'model=' 'mecab-dic=' 'max-length=' 'field=+' 'id-field=' 'lines' 'i/input=' 'o/output=' 'skip-invalid' 'progress' 'threads=' 'tokens' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __splade-tokenize_parse_subcommand -r 1 
        end
    end
end

function __splade-tokenize_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __splade-tokenize_parse_subcommand -S -a positional_count
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

function __splade-tokenize_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __splade-tokenize_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__splade-tokenize_tokens -p)
    if test -z "$(__splade-tokenize_tokens -t)"
        set -l index (count (__splade-tokenize_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'splade-tokenize' -f
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" model' -l 'model' -d 'Hugging Face model directory (tokenizer_config.json, vocab.txt or tokenizer.json). Default: $SPLADE_MODEL.' -rfa '(__splade-tokenize_complete_directories)'
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" mecab-dic' -l 'mecab-dic' -d 'MeCab dictionary directory (unidic-lite 1.0.8). Default: $SPLADE_MECAB_DIC, the installed copy, the project\'s deps/, then Python\'s unidic_lite.' -rfa '(__splade-tokenize_complete_directories)'
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" max-length' -l 'max-length' -d 'Maximum tokens per text including [CLS] and [SEP]; longer texts are truncated (default: 512).' -rfka ''
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize"' -l 'field' -d 'Text field; repeat or separate with commas to join several with a space (--field title,text).' -rfka ''
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" id-field' -l 'id-field' -d 'Id field of JSON Lines input (a string or number, passed through; default: id).' -rfka ''
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" lines' -l 'lines' -d 'Input is plain text, one text per line; the id is the line number.'
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" i input' -s 'i' -l 'input' -d 'Input file; \'-\' is standard input. zstd-compressed input is detected.' -rF
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" o output' -s 'o' -l 'output' -d 'Output file, written atomically (\'-\' is standard output; a device or pipe such as /dev/null is written directly).' -rF
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" skip-invalid' -l 'skip-invalid' -d 'Warn about and count invalid records instead of stopping with status 65.'
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" progress' -l 'progress' -d 'Show progress on standard error even when it is not a terminal (then a plain line every 10 s and one at the end).'
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" threads' -l 'threads' -d 'Worker threads (default: the number of cores).' -rfka ''
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" tokens' -l 'tokens' -d 'Add the token strings ("tokens") to each output record.'
complete -c 'splade-tokenize' -n '__splade-tokenize_should_offer_completions_for_flags_or_options "splade-tokenize" h help' -s 'h' -l 'help' -d 'Show help information.'
