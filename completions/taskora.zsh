#compdef taskora

_taskora_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _TASKORA_COMPLETE=complete_zsh taskora)
}

compdef _taskora_completion taskora
