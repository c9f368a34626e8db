# bash completion for tfattest and tfattest-verify.
# The commands and each command's options are read from the program's own
# help (`tfattest --help`, `tfattest CMD --help`), so they are always those of
# the installed build.

_tfattest() {
	local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} cmd i
	COMPREPLY=()
	# After `--` (apply), the words are Terraform's: complete file names.
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [ "${COMP_WORDS[i]}" = "--" ]; then
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return 0
		fi
	done
	if [ "$COMP_CWORD" -eq 1 ]; then
		mapfile -t COMPREPLY < <(compgen -W "$("$prog" --help 2> /dev/null |
			sed -n '/^Commands:$/,/^$/s/^  \([a-z0-9]*\).*/\1/p') --help --version" -- "$cur")
		return 0
	fi
	cmd=${COMP_WORDS[1]}
	if [ "$cmd" = pkcs11 ]; then
		if [ "$COMP_CWORD" -eq 2 ]; then
			mapfile -t COMPREPLY < <(compgen -W "list" -- "$cur")
			return 0
		fi
		cmd="pkcs11 list"
	fi
	case $cur in
	-*)
		# shellcheck disable=SC2086 # "pkcs11 list" is two words
		mapfile -t COMPREPLY < <(compgen -W "$("$prog" $cmd --help 2> /dev/null |
			sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p')" -- "$cur")
		;;
	*)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	esac
	return 0
}
complete -o filenames -F _tfattest tfattest tfattest-verify
