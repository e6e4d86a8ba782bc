function __splade-noise_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-noise_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __splade-noise_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-noise_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __splade-noise_parse_tokens -S
    set -l unparsed_tokens (__splade-noise_tokens -pc)
    switch $unparsed_tokens[1]
    case 'splade-noise'
        __splade-noise_parse_subcommand 0 'model=' 'mecab-dic=' 'format=' 'special-tokens' 'small-kana' 'extra=' 'o/output=' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __splade-noise_parse_subcommand -r 1 
        end
    end
end

function __splade-noise_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __splade-noise_parse_subcommand -S -a positional_count
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

function __splade-noise_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __splade-noise_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__splade-noise_tokens -p)
    if test -z "$(__splade-noise_tokens -t)"
        set -l index (count (__splade-noise_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'splade-noise' -f
complete -c 'splade-noise' -n '__splade-noise_should_offer_completions_for_flags_or_options "splade-noise" model' -l 'model' -d 'Hugging Face model directory (tokenizer_config.json, vocab.txt or tokenizer.json). Default: $SPLADE_MODEL.' -rfa '(__splade-noise_complete_directories)'
complete -c 'splade-noise' -n '__splade-noise_should_offer_completions_for_flags_or_options "splade-noise" mecab-dic' -l 'mecab-dic' -d 'MeCab dictionary directory (unidic-lite 1.0.8). Default: $SPLADE_MECAB_DIC, the installed copy, the project\'s deps/, then Python\'s unidic_lite.' -rfa '(__splade-noise_complete_directories)'
complete -c 'splade-noise' -n '__splade-noise_should_offer_completions_for_flags_or_options "splade-noise" format' -l 'format' -d 'Output format.' -rfka 'yaml json ids'
complete -c 'splade-noise' -n '__splade-noise_should_offer_completions_for_flags_or_options "splade-noise" special-tokens' -l 'special-tokens' -d 'Add [CLS], [SEP] and [UNK].'
complete -c 'splade-noise' -n '__splade-noise_should_offer_completions_for_flags_or_options "splade-noise" small-kana' -l 'small-kana' -d 'Add the small kana that are tokens of their own (ぁ ぃ ... っ ァ ... ッ ...).'
complete -c 'splade-noise' -n '__splade-noise_should_offer_completions_for_flags_or_options "splade-noise" extra' -l 'extra' -d 'Add the tokens of a file (separated by whitespace, as in a noise_tokens string); each must be in the vocabulary.' -rF
complete -c 'splade-noise' -n '__splade-noise_should_offer_completions_for_flags_or_options "splade-noise" o output' -s 'o' -l 'output' -d 'Output file, written atomically (\'-\' is standard output; a device or pipe such as /dev/null is written directly).' -rF
complete -c 'splade-noise' -n '__splade-noise_should_offer_completions_for_flags_or_options "splade-noise" h help' -s 'h' -l 'help' -d 'Show help information.'
