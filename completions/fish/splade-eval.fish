function __splade-eval_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-eval_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __splade-eval_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-eval_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __splade-eval_parse_tokens -S
    set -l unparsed_tokens (__splade-eval_tokens -pc)
    switch $unparsed_tokens[1]
    case 'splade-eval'
        __splade-eval_parse_subcommand -r 1 'qrels=' 'queries=' 'documents=' 'model=' 'mecab-dic=' 'keys=' 'metrics=+' 'json' 'per-query' 'tie-break=' 'missing-as-zero' 'ir-measures' 'ndcg=' 'relevance-level=' 'judged-only' 'max-retrieved=' 'baseline=' 'trials=' 'seed=' 'fail-under=+' 'plot=' 'o/output=' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __splade-eval_parse_subcommand -r 1 
        end
    end
end

function __splade-eval_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __splade-eval_parse_subcommand -S -a positional_count
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

function __splade-eval_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __splade-eval_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__splade-eval_tokens -p)
    if test -z "$(__splade-eval_tokens -t)"
        set -l index (count (__splade-eval_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'splade-eval' -f
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" qrels' -l 'qrels' -d 'Relevance judgments, TREC format (zstd detected); needed to score runs.' -rF
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" queries' -l 'queries' -d 'Query vectors (binary or JSON Lines, zstd detected): report their sparsity.' -rF
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" documents' -l 'documents' -d 'Document vectors (binary or JSON Lines, zstd detected): report their sparsity; with --queries also the expected FLOPs.' -rF
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" model' -l 'model' -d 'Model directory whose vocabulary resolves token-string keys of JSON Lines vectors and must match binary streams\' (default: $SPLADE_MODEL).' -rfa '(__splade-eval_complete_directories)'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" mecab-dic' -l 'mecab-dic' -d 'MeCab dictionary directory for --model\'s tokenizer (default: as the other tools find it).' -rfa '(__splade-eval_complete_directories)'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" keys' -l 'keys' -d 'JSON Lines vector keys: token strings (resolved with --model) or token ids (default: tokens with a model, else ids).' -rfka 'tokens ids'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval"' -l 'metrics' -d 'Metrics, comma-separated or repeated (default: nDCG@10,MRR@10,MAP,Recall@100).' -rfka ''
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" json' -l 'json' -d 'Write the report as JSON instead of a table.'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" per-query' -l 'per-query' -d 'Add every query\'s values to the report.'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" tie-break' -l 'tie-break' -d 'How equal scores are ordered: docno (descending, as trec_eval), docno-asc (as the MS MARCO evaluator), or rank (the run\'s own order).' -rfka 'docno docno-asc rank'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" missing-as-zero' -l 'missing-as-zero' -d 'Count judged queries missing from a run as 0 (trec_eval -c).'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" ir-measures' -l 'ir-measures' -d 'Reproduce ir_measures: --missing-as-zero, and MRR@k and Judged ties by docno ascending.'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" ndcg' -l 'ndcg' -d 'nDCG variant: trec_eval (graded gain, ideal cut at k) or jmteb (binary gain, ideal over all relevant).' -rfka 'trec_eval jmteb'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" relevance-level' -l 'relevance-level' -d 'The lowest judged level that counts as relevant, for every metric but trec_eval\'s nDCG (whose gain is the level): trec_eval -l, pytrec_eval\'s relevance_level; TREC Deep Learning uses 2 for MAP and recall.' -rfka ''
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" judged-only' -l 'judged-only' -d 'Evaluate each ranking condensed to its judged documents, unjudged ones dropped (trec_eval -J, pytrec_eval\'s judged_docs_only_flag).'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" max-retrieved' -l 'max-retrieved' -d 'Evaluate only the first n documents of each query\'s ranking, the rest dropped (trec_eval -M; TREC\'s official runs are evaluated with -M1000).' -rfka ''
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" baseline' -l 'baseline' -d 'The run the others are tested against: its name, path or position (default: the first).' -rfka ''
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" trials' -l 'trials' -d 'Trials of the randomization test.' -rfka ''
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" seed' -l 'seed' -d 'Seed of the randomization test.' -rfka ''
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval"' -l 'fail-under' -d 'Exit with status 1 when a run\'s mean is under a threshold: METRIC=VALUE, comma-separated or repeated.' -rfka ''
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" plot' -l 'plot' -d 'Also draw the means (and per-query differences from the baseline) as an SVG chart.' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'svg\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" o output' -s 'o' -l 'output' -d 'Output file, written atomically (\'-\' is standard output; a device or pipe such as /dev/null is written directly).' -rF
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_positional "splade-eval" -ge 1' -F
complete -c 'splade-eval' -n '__splade-eval_should_offer_completions_for_flags_or_options "splade-eval" h help' -s 'h' -l 'help' -d 'Show help information.'
