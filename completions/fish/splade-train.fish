function __splade-train_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-train_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __splade-train_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __splade-train_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __splade-train_parse_tokens -S
    set -l unparsed_tokens (__splade-train_tokens -pc)
    switch $unparsed_tokens[1]
    case 'splade-train'
        __splade-train_parse_subcommand -r 1 'config=' 'output-dir=' 'resume' 'log=' 'mecab-dic=' 'threads=' 'sparsity-warmup-in-optimizer-steps' 'progress' 'dry-run' 'device=' 'precision=' 'h/help'
        switch $unparsed_tokens[1]
        case 'help'
            __splade-train_parse_subcommand -r 1 
        end
    end
end

function __splade-train_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __splade-train_parse_subcommand -S -a positional_count
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

function __splade-train_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __splade-train_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__splade-train_tokens -p)
    if test -z "$(__splade-train_tokens -t)"
        set -l index (count (__splade-train_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'splade-train' -f
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" config' -l 'config' -d 'The training configuration (the reference trainer\'s YAML keys).' -rfa '(set -l exts \'yaml\' \'yml\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" output-dir' -l 'output-dir' -d 'Where checkpoints and the final model go (overrides output_dir).' -rfa '(__splade-train_complete_directories)'
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" resume' -l 'resume' -d 'Continue from the latest checkpoint-N in the output directory (without one, start at step 0), with the overrides and --sparsity-warmup-in-optimizer-steps of the run that wrote it, unless given again.'
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" log' -l 'log' -d 'The JSON Lines log; \'-\' is standard output (default: OUTPUT_DIR/training_log.jsonl).' -rfka ''
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" mecab-dic' -l 'mecab-dic' -d 'MeCab dictionary directory for Japanese tokenizers (see splade-tokenize).' -rfa '(__splade-train_complete_directories)'
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" threads' -l 'threads' -d 'Threads for tokenization and the maths (default: the number of cores). On the CPU a seed gives the same run again at the same thread count; another count sums in another order (losses about 1e-6 apart). A GPU adds some gradients atomically: its runs differ as slightly from one another.' -rfka ''
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" sparsity-warmup-in-optimizer-steps' -l 'sparsity-warmup-in-optimizer-steps' -d 'Count fractional sparsity warm-ups in optimizer steps rather than micro-batches (the reference counts micro-batches).'
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" progress' -l 'progress' -d 'Show progress on standard error even when it is not a terminal (then a plain line every 10 s and one at the end).'
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" dry-run' -l 'dry-run' -d 'Check the configuration, the model, its tokenizer, the training data and the checkpoint --resume would continue, say the plan, and exit without training or writing anything.'
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" device' -l 'device' -d 'Where the model runs: cpu, cuda (GPU 0), cuda:N, or auto (a GPU when this build has CUDA support and the machine a GPU, else the CPU). Without CUDA support in the build, or without a GPU, cuda exits with status 69.' -rfka 'cpu cuda auto'
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" precision' -l 'precision' -d 'How a GPU multiplies matrices: fp32 (the default); tf32 (TF32 tensor cores, about 1e-3 relative error per product, as PyTorch\'s allow_tf32); bf16 (bfloat16 weights and product inputs with float32 sums, about 1e-2, as torch.autocast; training keeps float32 master weights, gradients and optimizer state). splade-train defaults to the configuration\'s bf16: true or tf32: true. The CPU computes in fp32: tf32 or bf16 with --device cpu is a usage error, with auto and no GPU a warning.' -rfka 'fp32 tf32 bf16'
complete -c 'splade-train' -n '__splade-train_should_offer_completions_for_flags_or_options "splade-train" h help' -s 'h' -l 'help' -d 'Show help information.'
