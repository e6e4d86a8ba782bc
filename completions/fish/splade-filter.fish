function __splade-filter_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-filter_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __splade-filter_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-filter_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __splade-filter_parse_tokens -S
    set -l unparsed_tokens (__splade-filter_tokens -pc)
    switch $unparsed_tokens[1]
    case 'splade-filter'
        __splade-filter_parse_subcommand 0 'i/input=' 'o/output=' 'skip-invalid' 'progress' 'threads=' 'rerankers=' 'pos-threshold=' 'neg-threshold=' 'strict' 'min-negatives=' 'collection=' 'doc-max-chars=' 'run=+' 'qrels=' 'scores=' 'skip=' 'max-negatives=' 'aug-factor=' 'seed=' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __splade-filter_parse_subcommand -r 1 
        end
    end
end

function __splade-filter_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __splade-filter_parse_subcommand -S -a positional_count
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

function __splade-filter_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __splade-filter_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__splade-filter_tokens -p)
    if test -z "$(__splade-filter_tokens -t)"
        set -l index (count (__splade-filter_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'splade-filter' -f
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" i input' -s 'i' -l 'input' -d 'Input file; \'-\' is standard input. zstd-compressed input is detected.' -rF
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" o output' -s 'o' -l 'output' -d 'Output file, written atomically (\'-\' is standard output; a device or pipe such as /dev/null is written directly).' -rF
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" skip-invalid' -l 'skip-invalid' -d 'Warn about and count invalid records instead of stopping with status 65.'
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" progress' -l 'progress' -d 'Show progress on standard error even when it is not a terminal (then a plain line every 10 s and one at the end).'
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" threads' -l 'threads' -d 'Worker threads (default: the number of cores).' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" rerankers' -l 'rerankers' -d 'Rerankers whose scores are averaged, comma-separated (the R of score.R.COLUMN).' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" pos-threshold' -l 'pos-threshold' -d 'A positive needs a mean score ≥ this.' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" neg-threshold' -l 'neg-threshold' -d 'A negative needs a mean score ≤ this.' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" strict' -l 'strict' -d 'Compare strictly: > --pos-threshold, < --neg-threshold.'
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" min-negatives' -l 'min-negatives' -d 'Rows with fewer negatives are dropped (the trainer samples group size − 1).' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" collection' -l 'collection' -d 'Documents candidate ids refer to: JSON Lines with "text", optional "title" and "id".' -rF
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" doc-max-chars' -l 'doc-max-chars' -d 'Cut each collection document ("title text") to this many characters (default: 1024).' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter"' -l 'run' -d 'Mine hard negatives from this run (TREC or JSON Lines); repeat for several.' -rF
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" qrels' -l 'qrels' -d 'Mining: relevance judgments (TREC qrels); level ≥ 1 is a positive.' -rF
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" scores' -l 'scores' -d 'Mining: teacher scores of query-document pairs, as a run file; labels instead of 1/0.' -rF
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" skip' -l 'skip' -d 'Mining: ranks skipped at the top of each run (default: 0).' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" max-negatives' -l 'max-negatives' -d 'Mining: negatives taken per query at most (default: 30).' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" aug-factor' -l 'aug-factor' -d 'Write every kept row this many times, shuffled.' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" seed' -l 'seed' -d 'Seed of the --aug-factor shuffles.' -rfka ''
complete -c 'splade-filter' -n '__splade-filter_should_offer_completions_for_flags_or_options "splade-filter" h help' -s 'h' -l 'help' -d 'Show help information.'
