/*
 * Replays a fuzz corpus through a libFuzzer entry point without a fuzzing
 * engine, so that ctest exercises every committed input in every build.
 * Usage: <target>_replay DIR|FILE...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0, errors = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			struct dirent **names;
			int n = scandir(argv[i], &names, NULL, alphasort);
			if (n < 0) {
				perror(argv[i]);
				return 1;
			}
			for (int j = 0; j < n; j++) {
				char p[4096];
				if (names[j]->d_name[0] != '.') {
					snprintf(p, sizeof(p), "%s/%s", argv[i], names[j]->d_name);
					errors += run_file(p);
					files++;
				}
				free(names[j]);
			}
			free(names);
		} else {
			errors += run_file(argv[i]);
			files++;
		}
	}
	printf("replayed %d inputs\n", files);
	if (files == 0) {
		fprintf(stderr, "empty corpus\n");
		return 1;
	}
	return errors ? 1 : 0;
}
