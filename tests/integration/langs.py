"""The languages of issue 8 and the programs test_languages.py runs in each.

One Language per canonical name, each with the same cases written the way
that language is written (the table is the spec's; the expected results are
what the runtimes really do, checked against the real bundles):

  hello          prints exactly HELLO
  stdin          upper-cases the lines of STDIN_TEXT
  args           prints each of ARGS on a line (one has a space, one is empty,
                 one looks like a shell variable: no shell may see them)
  exit_code      exits with 3
  error          an uncaught error: non-zero exit, a message naming it
  unicode        prints UNICODE_TEXT exactly
  compile_error  (compiled) uses UNDEFINED, which does not exist
  cpu            the sum of the primes below cpu_n, a deterministic CPU load
  timeout        never ends
  readonly_code  tries to create a file in /code; prints WRITE_FAILED when it cannot
  network        connects to the server's own port on 127.0.0.1 (open on the
                 host, unreachable from the container's empty network namespace);
                 prints CONNECT_FAILED when that fails
  memory         (java, javascript, typescript, go) allocates argv[1] MiB, touching it
  default_limits sleeps 2 s and prints SLEPT (the host reads its cgroup limits)
  heavy          (compiled) a source that takes the compiler seconds and tens of
                 MB: the compile_timeout and compile_memory cases send it with a
                 100 ms compile timeout and a 16 MB compile memory limit

The readonly_code and network programs were also run outside the sandbox
(in a chroot of their bundle, /code writable, the host's network): each then
prints write-succeeded / connect-succeeded, so a "failed" inside is the
sandbox's doing, not a broken program.

Placeholders, replaced before a program is sent: @PORT@ (the server's port),
@N@ (cpu_n).

A case a language cannot express is listed in not_applicable with the reason;
test_languages.py reports it as a skipped test, never as a faked pass.
"""

from ce import code

HELLO = "Hello, World!\n"
STDIN_TEXT = "hello\nWorld 42\n"
STDIN_EXPECTED = "HELLO\nWORLD 42\n"
ARGS = ["one", "two words", "", "$HOME"]
ARGS_EXPECTED = "".join(a + "\n" for a in ARGS)
UNICODE_TEXT = "héllo wörld ✓ 日本\n"
WRITE_FAILED = "write-failed\n"
CONNECT_FAILED = "connect-failed\n"
SLEPT = "slept\n"
UNDEFINED = "undefined_thing"
ERROR_TEXT = "boom-7"

# Every case, in the order the tests are generated; QUICK_CASES under CE_QUICK=1.
CASES = ("hello", "stdin", "args", "exit_code", "error", "unicode", "compile_error", "cpu", "timeout",
         "readonly_code", "network", "memory", "default_limits", "compile_timeout", "compile_memory",
         "alias")
QUICK_CASES = ("hello", "compile_error")
COMPILE_CASES = ("compile_error", "compile_timeout", "compile_memory")


def prime_sum(n):
    """Sum of the primes below n (what every cpu program must print)."""
    sieve = bytearray([1]) * n
    sieve[0:2] = b"\0\0"
    for i in range(2, int(n ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytes(len(range(i * i, n, i)))
    return sum(i for i in range(n) if sieve[i])


class Language:
    """One language of the table.

    programs: case -> source (see the module doc for what each prints).
    expect: case -> overrides of what test_languages.py asserts:
      "error": {"exit_code", "signal", "needles"} (default: any non-zero exit,
      no signal, ERROR_TEXT in the output); "exit_code": {"output"} (default "");
      "compile_error": {"needles"} (in compile.output; default UNDEFINED);
      "readonly_code": {"status", "output", "needles_any"}; "memory":
      {"statuses", "needles"}; "compile_timeout", "compile_memory": {"statuses"}.
    not_applicable: case -> why the language cannot express it.
    """

    def __init__(self, name, aliases, programs, compiled=False, expect=None, not_applicable=None,
                 cpu_n=200000, heavy=None):
        self.name = name
        self.aliases = list(aliases)
        self.programs = {k: code(v) for k, v in programs.items()}
        self.compiled = compiled
        self.expect = expect or {}
        self.not_applicable = not_applicable or {}
        self.cpu_n = cpu_n
        self.heavy = heavy  # a function returning the heavy compile's source

    def program(self, case, **values):
        if case in ("compile_timeout", "compile_memory"):
            src = self.heavy()
        else:
            src = self.programs[case]
        values.setdefault("N", self.cpu_n)
        for key, value in values.items():
            src = src.replace("@%s@" % key, str(value))
        return src

    def cases(self, quick=False):
        """[(case, None or the reason it does not apply)] for this language."""
        out = []
        for case in (QUICK_CASES if quick else CASES):
            if case in COMPILE_CASES and not self.compiled:
                continue
            if case == "memory" and "memory" not in self.programs:
                continue
            if case in self.not_applicable:
                out.append((case, self.not_applicable[case]))
                continue
            if case == "alias" and not self.aliases:
                continue
            out.append((case, None))
        return out

    def expected(self, case, key, default=None):
        return self.expect.get(case, {}).get(key, default)


# ---------------------------------------------------------------------------
# Generated heavy sources for the compile-limit cases: big enough that no
# compiler finishes within a 100 ms compile timeout, and (most) need more than
# a 16 MB compile memory limit.

def heavy_c():
    lines = ["#include <stdio.h>"]
    for i in range(300):
        lines.append("int f%d(int x) { int s = %d; for (int i = 0; i < x; i++) s += (i * %d) ^ (s >> 3); return s; }"
                     % (i, i, i + 1))
    lines.append("int main(void) {\n    long long t = 0;")
    for i in range(300):
        lines.append("    t += f%d(%d);" % (i, i % 7))
    lines.append('    printf("%lld\\n", t);\n    return 0;\n}')
    return "\n".join(lines) + "\n"


def heavy_cpp():
    lines = ["#include <bits/stdc++.h>"]
    for i in range(20):
        lines.append("std::string g%d(const std::string &s) { std::map<std::string, std::vector<int>> m; "
                     "m[s].push_back(%d); std::regex re(\"a+b%d\"); std::ostringstream o; "
                     "o << std::regex_match(s, re) << m.size(); return o.str(); }" % (i, i, i))
    lines.append("int main() {\n    std::string t;")
    for i in range(20):
        lines.append("    t += g%d(\"aab\");" % i)
    lines.append("    std::cout << t.size() << '\\n';\n}")
    return "\n".join(lines) + "\n"


def heavy_rust():
    lines = []
    for i in range(200):
        lines.append("fn f%d(v: &[u64]) -> String { format!(\"{}-{:?}\", %d, "
                     "v.iter().map(|x| x * %d).collect::<Vec<_>>()) }"
                     % (i, i, i + 1))
    lines.append("fn main() {\n    let v = vec![1u64, 2, 3];\n    let mut n = 0;")
    for i in range(200):
        lines.append("    n += f%d(&v).len();" % i)
    lines.append("    println!(\"{}\", n);\n}")
    return "\n".join(lines) + "\n"


def heavy_go():
    lines = ["package main", "", "import \"fmt\"", ""]
    for i in range(500):
        lines.append("func f%d(v []int) string { s := 0; for _, x := range v { s += x * %d }; "
                     "return fmt.Sprint(s, %d) }"
                     % (i, i + 1, i))
    lines.append("func main() {\n\tv := []int{1, 2, 3}\n\tn := 0")
    for i in range(500):
        lines.append("\tn += len(f%d(v))" % i)
    lines.append("\tfmt.Println(n)\n}")
    return "\n".join(lines) + "\n"


def heavy_java():
    lines = ["import java.util.*;", "import java.util.stream.*;", "", "public class Main {"]
    for i in range(300):
        lines.append("    static String f%d(List<Integer> v) { return v.stream().map(x -> x * %d)"
                     ".map(String::valueOf).collect(Collectors.joining(\",\")); }" % (i, i + 1))
    lines.append("    public static void main(String[] args) {\n        List<Integer> v = List.of(1, 2, 3);\n"
                 "        int n = 0;")
    for i in range(300):
        lines.append("        n += f%d(v).length();" % i)
    lines.append("        System.out.println(n);\n    }\n}")
    return "\n".join(lines) + "\n"


def heavy_typescript():
    lines = []
    for i in range(400):
        lines.append("function f%d<T extends { n: number }>(v: T[]): string { "
                     "return v.map((x) => x.n * %d).join(\",\"); }"
                     % (i, i + 1))
    lines.append("const v = [{ n: 1 }, { n: 2 }];\nlet n: number = 0;")
    for i in range(400):
        lines.append("n += f%d(v).length;" % i)
    lines.append("console.log(n);")
    return "\n".join(lines) + "\n"


def heavy_csharp():
    lines = ["using System;", "using System.Linq;", "using System.Collections.Generic;", "",
             "class Program {"]
    for i in range(400):
        lines.append("    static string F%d(List<int> v) { return string.Join(\",\", v.Select(x => x * %d)); }"
                     % (i, i + 1))
    lines.append("    static void Main() {\n        var v = new List<int> { 1, 2, 3 };\n        int n = 0;")
    for i in range(400):
        lines.append("        n += F%d(v).Length;" % i)
    lines.append("        Console.WriteLine(n);\n    }\n}")
    return "\n".join(lines) + "\n"


def heavy_fortran():
    lines = ["module heavy", "  implicit none", "contains"]
    for i in range(300):
        lines += ["  integer function f%d(x)" % i, "    integer, intent(in) :: x", "    integer :: i",
                  "    f%d = %d" % (i, i), "    do i = 1, x", "      f%d = ieor(f%d + i * %d, ishft(f%d, -3))"
                  % (i, i, i + 1, i), "    end do", "  end function f%d" % i]
    lines += ["end module heavy", "", "program main", "  use heavy", "  implicit none",
              "  integer(8) :: t", "  t = 0"]
    for i in range(300):
        lines.append("  t = t + f%d(%d)" % (i, i % 7))
    lines += ["  print '(i0)', t", "end program main"]
    return "\n".join(lines) + "\n"


def heavy_pascal():
    lines = ["program Main;", "", "{$mode objfpc}{$H+}", "", "uses SysUtils;", ""]
    for i in range(1000):
        lines += ["function F%d(x: Integer): string;" % i, "var i, s: Integer;", "begin",
                  "  s := %d;" % i, "  for i := 1 to x do s := s + (i * %d) xor (s shr 3);" % (i + 1),
                  "  Result := IntToStr(s) + Format('%%d', [x]);", "end;", ""]
    lines += ["var n: Integer;", "begin", "  n := 0;"]
    for i in range(1000):
        lines.append("  n := n + Length(F%d(%d));" % (i, i % 7))
    lines += ["  WriteLn(n);", "end."]
    return "\n".join(lines) + "\n"


def heavy_nasm():
    # nasm itself is lean: the 24 MB data section is what it (and ld) must hold
    return code("""
                global  _start
                section .data
        blob:   times 24 << 20 db 1
                section .text
        _start:
        %assign i 0
        %rep 50000
                mov     rax, i
                add     rbx, rax
        %assign i i+1
        %endrep
                mov     eax, 60
                xor     edi, edi
                syscall
        """)


# ---------------------------------------------------------------------------
# The table

LANGUAGES = {}


def language(*args, **kwargs):
    lang = Language(*args, **kwargs)
    LANGUAGES[lang.name] = lang
    return lang


language("python3", ["python", "py", "py3"], {
    "hello": 'print("Hello, World!")\n',
    "stdin": """
        import sys

        for line in sys.stdin:
            print(line.rstrip("\\n").upper())
        """,
    "args": """
        import sys

        for arg in sys.argv[1:]:
            print(arg)
        """,
    "exit_code": "import sys\n\nsys.exit(3)\n",
    "error": 'raise ValueError("boom-7")\n',
    "unicode": 'print("héllo wörld ✓ 日本")\n',
    "cpu": """
        n = @N@
        sieve = bytearray([1]) * n
        sieve[0:2] = b"\\0\\0"
        for i in range(2, int(n ** 0.5) + 1):
            if sieve[i]:
                sieve[i * i::i] = bytes(len(range(i * i, n, i)))
        print(sum(i for i in range(n) if sieve[i]))
        """,
    "timeout": "while True:\n    pass\n",
    "readonly_code": """
        try:
            with open("/code/probe.txt", "w") as f:
                f.write("x")
            print("write-succeeded")
        except OSError:
            print("write-failed")
        """,
    "network": """
        import socket

        try:
            socket.create_connection(("127.0.0.1", @PORT@), timeout=3).close()
            print("connect-succeeded")
        except OSError:
            print("connect-failed")
        """,
    "default_limits": 'import time\n\ntime.sleep(2)\nprint("slept")\n',
}, expect={"error": {"exit_code": 1, "needles": ["ValueError", ERROR_TEXT]}})


C_HELLO = """
    #include <stdio.h>

    int main(void)
    {
        printf("Hello, World!\\n");
        return 0;
    }
    """

language("c", ["gcc"], {
    "hello": C_HELLO,
    "stdin": """
        #include <ctype.h>
        #include <stdio.h>
        #include <string.h>

        int main(void)
        {
            char line[256];
            while (fgets(line, sizeof line, stdin) != NULL) {
                for (char *p = line; *p; p++)
                    *p = (char)toupper((unsigned char)*p);
                fputs(line, stdout);
            }
            return 0;
        }
        """,
    "args": """
        #include <stdio.h>

        int main(int argc, char **argv)
        {
            for (int i = 1; i < argc; i++)
                puts(argv[i]);
            return 0;
        }
        """,
    "exit_code": "int main(void)\n{\n    return 3;\n}\n",
    "error": """
        #include <assert.h>

        int main(void)
        {
            int answer = 41;
            assert(answer == 42);
            return 0;
        }
        """,
    "unicode": '#include <stdio.h>\n\nint main(void)\n{\n    puts("héllo wörld ✓ 日本");\n    return 0;\n}\n',
    "compile_error": """
        #include <stdio.h>

        int main(void)
        {
            printf("%d\\n", undefined_thing);
            return 0;
        }
        """,
    "cpu": """
        #include <stdio.h>

        #define N @N@
        static char composite[N];

        int main(void)
        {
            long long sum = 0;
            for (long i = 2; i * i < N; i++)
                if (!composite[i])
                    for (long j = i * i; j < N; j += i)
                        composite[j] = 1;
            for (long i = 2; i < N; i++)
                if (!composite[i])
                    sum += i;
            printf("%lld\\n", sum);
            return 0;
        }
        """,
    "timeout": """
        int main(void)
        {
            volatile unsigned long n = 0;
            for (;;)
                n++;
        }
        """,
    "readonly_code": """
        #include <stdio.h>

        int main(void)
        {
            FILE *f = fopen("/code/probe.txt", "w");
            if (f == NULL) {
                puts("write-failed");
                return 0;
            }
            fputs("x", f);
            fclose(f);
            puts("write-succeeded");
            return 0;
        }
        """,
    "network": """
        #include <arpa/inet.h>
        #include <netinet/in.h>
        #include <stdio.h>
        #include <sys/socket.h>
        #include <unistd.h>

        int main(void)
        {
            struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(@PORT@)};
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
                puts("connect-failed");
                return 0;
            }
            close(fd);
            puts("connect-succeeded");
            return 0;
        }
        """,
    "default_limits": """
        #include <stdio.h>
        #include <unistd.h>

        int main(void)
        {
            sleep(2);
            puts("slept");
            return 0;
        }
        """,
}, compiled=True, cpu_n=2000000, heavy=heavy_c, expect={
    "error": {"exit_code": 134, "signal": "SIGABRT", "needles": ["Assertion", "answer == 42"]},
    "compile_error": {"needles": ["undefined_thing", "undeclared"]},
})

language("cpp", ["c++", "g++", "cxx"], {
    "hello": '#include <iostream>\n\nint main()\n{\n    std::cout << "Hello, World!\\n";\n}\n',
    "stdin": """
        #include <cctype>
        #include <iostream>
        #include <string>

        int main()
        {
            std::string line;
            while (std::getline(std::cin, line)) {
                for (char &c : line)
                    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                std::cout << line << '\\n';
            }
        }
        """,
    "args": """
        #include <iostream>
        #include <string>
        #include <vector>

        int main(int argc, char **argv)
        {
            std::vector<std::string> args(argv + 1, argv + argc);
            for (const auto &arg : args)
                std::cout << arg << '\\n';
        }
        """,
    "exit_code": "#include <cstdlib>\n\nint main()\n{\n    std::exit(3);\n}\n",
    "error": """
        #include <stdexcept>

        int main()
        {
            throw std::runtime_error("boom-7");
        }
        """,
    "unicode": '#include <iostream>\n\nint main()\n{\n    std::cout << "héllo wörld ✓ 日本" << std::endl;\n}\n',
    "compile_error": """
        #include <iostream>

        int main()
        {
            std::cout << undefined_thing << '\\n';
        }
        """,
    "cpu": """
        #include <iostream>
        #include <vector>

        int main()
        {
            const long n = @N@;
            std::vector<bool> composite(n);
            long long sum = 0;
            for (long i = 2; i < n; i++) {
                if (composite[i])
                    continue;
                sum += i;
                for (long j = i * i; j < n; j += i)
                    composite[j] = true;
            }
            std::cout << sum << '\\n';
        }
        """,
    "timeout": """
        int main()
        {
            volatile unsigned long n = 0;
            for (;;)
                n = n + 1;
        }
        """,
    "readonly_code": """
        #include <fstream>
        #include <iostream>

        int main()
        {
            std::ofstream out("/code/probe.txt");
            if (!out) {
                std::cout << "write-failed\\n";
                return 0;
            }
            out << "x";
            std::cout << "write-succeeded\\n";
        }
        """,
    "network": """
        #include <arpa/inet.h>
        #include <netinet/in.h>
        #include <sys/socket.h>
        #include <unistd.h>
        #include <iostream>

        int main()
        {
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(@PORT@);
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
                std::cout << "connect-failed\\n";
                return 0;
            }
            close(fd);
            std::cout << "connect-succeeded\\n";
        }
        """,
    "default_limits": """
        #include <chrono>
        #include <iostream>
        #include <thread>

        int main()
        {
            std::this_thread::sleep_for(std::chrono::seconds(2));
            std::cout << "slept\\n";
        }
        """,
}, compiled=True, cpu_n=2000000, heavy=heavy_cpp, expect={
    "error": {"exit_code": 134, "signal": "SIGABRT", "needles": ["std::runtime_error", ERROR_TEXT]},
    "compile_error": {"needles": ["undefined_thing", "not declared"]},
})

language("rust", ["rs"], {
    "hello": 'fn main() {\n    println!("Hello, World!");\n}\n',
    "stdin": """
        use std::io::{self, BufRead};

        fn main() {
            for line in io::stdin().lock().lines() {
                println!("{}", line.unwrap().to_uppercase());
            }
        }
        """,
    "args": """
        fn main() {
            for arg in std::env::args().skip(1) {
                println!("{}", arg);
            }
        }
        """,
    "exit_code": "fn main() {\n    std::process::exit(3);\n}\n",
    "error": """
        fn main() {
            let v: Vec<i32> = Vec::new();
            if v.is_empty() {
                panic!("boom-7");
            }
        }
        """,
    "unicode": 'fn main() {\n    println!("héllo wörld ✓ 日本");\n}\n',
    "compile_error": 'fn main() {\n    println!("{}", undefined_thing);\n}\n',
    "cpu": """
        fn main() {
            let n: usize = @N@;
            let mut composite = vec![false; n];
            let mut sum: u64 = 0;
            for i in 2..n {
                if composite[i] {
                    continue;
                }
                sum += i as u64;
                let mut j = i * i;
                while j < n {
                    composite[j] = true;
                    j += i;
                }
            }
            println!("{}", sum);
        }
        """,
    "timeout": "fn main() {\n    loop {}\n}\n",
    "readonly_code": """
        fn main() {
            match std::fs::write("/code/probe.txt", "x") {
                Ok(()) => println!("write-succeeded"),
                Err(_) => println!("write-failed"),
            }
        }
        """,
    "network": """
        use std::net::TcpStream;

        fn main() {
            match TcpStream::connect(("127.0.0.1", @PORT@)) {
                Ok(_) => println!("connect-succeeded"),
                Err(_) => println!("connect-failed"),
            }
        }
        """,
    "default_limits": """
        use std::{thread, time::Duration};

        fn main() {
            thread::sleep(Duration::from_secs(2));
            println!("slept");
        }
        """,
}, compiled=True, cpu_n=2000000, heavy=heavy_rust, expect={
    "error": {"exit_code": 101, "needles": ["panicked", ERROR_TEXT]},
    "compile_error": {"needles": ["cannot find value `undefined_thing`"]},
})

language("go", ["golang"], {
    "hello": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, World!")\n}\n',
    "stdin": """
        package main

        import (
        \t"bufio"
        \t"fmt"
        \t"os"
        \t"strings"
        )

        func main() {
        \tscanner := bufio.NewScanner(os.Stdin)
        \tfor scanner.Scan() {
        \t\tfmt.Println(strings.ToUpper(scanner.Text()))
        \t}
        }
        """,
    "args": """
        package main

        import (
        \t"fmt"
        \t"os"
        )

        func main() {
        \tfor _, arg := range os.Args[1:] {
        \t\tfmt.Println(arg)
        \t}
        }
        """,
    "exit_code": 'package main\n\nimport "os"\n\nfunc main() {\n\tos.Exit(3)\n}\n',
    "error": 'package main\n\nfunc main() {\n\tpanic("boom-7")\n}\n',
    "unicode": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("héllo wörld ✓ 日本")\n}\n',
    "compile_error": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(undefined_thing)\n}\n',
    "cpu": """
        package main

        import "fmt"

        func main() {
        \tconst n = @N@
        \tcomposite := make([]bool, n)
        \tvar sum int64
        \tfor i := 2; i < n; i++ {
        \t\tif composite[i] {
        \t\t\tcontinue
        \t\t}
        \t\tsum += int64(i)
        \t\tfor j := i * i; j < n; j += i {
        \t\t\tcomposite[j] = true
        \t\t}
        \t}
        \tfmt.Println(sum)
        }
        """,
    "timeout": "package main\n\nfunc main() {\n\tfor {\n\t}\n}\n",
    "readonly_code": """
        package main

        import (
        \t"fmt"
        \t"os"
        )

        func main() {
        \tif err := os.WriteFile("/code/probe.txt", []byte("x"), 0o644); err != nil {
        \t\tfmt.Println("write-failed")
        \t\treturn
        \t}
        \tfmt.Println("write-succeeded")
        }
        """,
    "network": """
        package main

        import (
        \t"fmt"
        \t"net"
        \t"time"
        )

        func main() {
        \tconn, err := net.DialTimeout("tcp", "127.0.0.1:@PORT@", 3*time.Second)
        \tif err != nil {
        \t\tfmt.Println("connect-failed")
        \t\treturn
        \t}
        \tconn.Close()
        \tfmt.Println("connect-succeeded")
        }
        """,
    "memory": """
        package main

        import (
        \t"fmt"
        \t"os"
        \t"strconv"
        )

        func main() {
        \tmb, _ := strconv.Atoi(os.Args[1])
        \tvar chunks [][]byte
        \tfor i := 0; i < mb; i++ {
        \t\tchunk := make([]byte, 1<<20)
        \t\tfor j := 0; j < len(chunk); j += 4096 {
        \t\t\tchunk[j] = 1
        \t\t}
        \t\tchunks = append(chunks, chunk)
        \t}
        \tfmt.Println("allocated", len(chunks))
        }
        """,
    "default_limits": """
        package main

        import (
        \t"fmt"
        \t"time"
        )

        func main() {
        \ttime.Sleep(2 * time.Second)
        \tfmt.Println("slept")
        }
        """,
}, compiled=True, cpu_n=2000000, heavy=heavy_go, expect={
    "error": {"exit_code": 2, "needles": ["panic: boom-7", "goroutine"]},
    "compile_error": {"needles": ["undefined: undefined_thing"]},
    "memory": {"statuses": ["memory_limit"]},
})

language("java", [], {
    "hello": """
        public class Main {
            public static void main(String[] args) {
                System.out.println("Hello, World!");
            }
        }
        """,
    "stdin": """
        import java.io.BufferedReader;
        import java.io.IOException;
        import java.io.InputStreamReader;

        public class Main {
            public static void main(String[] args) throws IOException {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
                String line;
                while ((line = in.readLine()) != null) {
                    System.out.println(line.toUpperCase());
                }
            }
        }
        """,
    "args": """
        public class Main {
            public static void main(String[] args) {
                for (String arg : args) {
                    System.out.println(arg);
                }
            }
        }
        """,
    "exit_code": """
        public class Main {
            public static void main(String[] args) {
                System.exit(3);
            }
        }
        """,
    "error": """
        public class Main {
            public static void main(String[] args) {
                throw new IllegalStateException("boom-7");
            }
        }
        """,
    "unicode": """
        public class Main {
            public static void main(String[] args) {
                System.out.println("héllo wörld ✓ 日本");
            }
        }
        """,
    "compile_error": """
        public class Main {
            public static void main(String[] args) {
                System.out.println(undefined_thing);
            }
        }
        """,
    "cpu": """
        public class Main {
            public static void main(String[] args) {
                int n = @N@;
                boolean[] composite = new boolean[n];
                long sum = 0;
                for (int i = 2; i < n; i++) {
                    if (composite[i]) {
                        continue;
                    }
                    sum += i;
                    for (long j = (long) i * i; j < n; j += i) {
                        composite[(int) j] = true;
                    }
                }
                System.out.println(sum);
            }
        }
        """,
    "timeout": """
        public class Main {
            public static void main(String[] args) {
                while (true) {
                }
            }
        }
        """,
    "readonly_code": """
        import java.io.IOException;
        import java.nio.file.Files;
        import java.nio.file.Path;

        public class Main {
            public static void main(String[] args) {
                try {
                    Files.writeString(Path.of("/code/probe.txt"), "x");
                    System.out.println("write-succeeded");
                } catch (IOException e) {
                    System.out.println("write-failed");
                }
            }
        }
        """,
    "network": """
        import java.io.IOException;
        import java.net.Socket;

        public class Main {
            public static void main(String[] args) {
                try (Socket socket = new Socket("127.0.0.1", @PORT@)) {
                    System.out.println("connect-succeeded");
                } catch (IOException e) {
                    System.out.println("connect-failed");
                }
            }
        }
        """,
    "memory": """
        import java.util.ArrayList;
        import java.util.List;

        public class Main {
            public static void main(String[] args) {
                int mb = Integer.parseInt(args[0]);
                List<byte[]> chunks = new ArrayList<>();
                for (int i = 0; i < mb; i++) {
                    chunks.add(new byte[1 << 20]);
                }
                System.out.println("allocated " + chunks.size());
            }
        }
        """,
    "default_limits": """
        public class Main {
            public static void main(String[] args) throws InterruptedException {
                Thread.sleep(2000);
                System.out.println("slept");
            }
        }
        """,
}, compiled=True, cpu_n=2000000, heavy=heavy_java, expect={
    "error": {"exit_code": 1, "needles": ["Exception in thread \"main\" java.lang.IllegalStateException: boom-7"]},
    "compile_error": {"needles": ["cannot find symbol", "undefined_thing"]},
    # the JVM's own heap cap is a quarter of the cgroup's memory, but the rest of
    # the JVM (metaspace, code cache, GC) does not fit either: the OOM killer comes first
    "memory": {"statuses": ["memory_limit"]},
})

JS_PROGRAMS = {
    "hello": 'console.log("Hello, World!");\n',
    "stdin": """
        const readline = require("readline");

        const rl = readline.createInterface({ input: process.stdin });
        rl.on("line", (line) => console.log(line.toUpperCase()));
        """,
    "args": """
        for (const arg of process.argv.slice(2)) {
          console.log(arg);
        }
        """,
    "exit_code": "process.exit(3);\n",
    "error": 'throw new Error("boom-7");\n',
    "unicode": 'console.log("héllo wörld ✓ 日本");\n',
    "cpu": """
        const n = @N@;
        const composite = new Uint8Array(n);
        let sum = 0;
        for (let i = 2; i < n; i++) {
          if (composite[i]) continue;
          sum += i;
          for (let j = i * i; j < n; j += i) composite[j] = 1;
        }
        console.log(sum);
        """,
    "timeout": "for (;;) {}\n",
    "readonly_code": """
        const fs = require("fs");

        try {
          fs.writeFileSync("/code/probe.txt", "x");
          console.log("write-succeeded");
        } catch (err) {
          console.log("write-failed");
        }
        """,
    "network": """
        const net = require("net");

        const socket = net.connect({ host: "127.0.0.1", port: @PORT@ });
        socket.on("connect", () => {
          console.log("connect-succeeded");
          socket.destroy();
        });
        socket.on("error", () => console.log("connect-failed"));
        """,
    "memory": """
        const mb = Number(process.argv[2]);
        const chunks = [];
        for (let i = 0; i < mb; i++) {
          // 1 MiB of small integers on the JavaScript heap
          chunks.push(new Array(1 << 17).fill(i));
        }
        console.log("allocated " + chunks.length);
        """,
    "default_limits": 'setTimeout(() => console.log("slept"), 2000);\n',
}

language("javascript", ["js", "node", "node-js", "nodejs"], JS_PROGRAMS, cpu_n=2000000, expect={
    "error": {"exit_code": 1, "needles": ["Error: boom-7"]},
    # The bundle caps V8's heap (--max-old-space-size=96) inside the 128 MB run
    # limit: node's own "heap out of memory" abort, not the OOM killer.
    "memory": {"statuses": ["runtime_error"], "needles": ["JavaScript heap out of memory"]},
})

language("typescript", ["ts"], {
    "hello": 'const greeting: string = "Hello, World!";\nconsole.log(greeting);\n',
    "stdin": """
        import * as readline from "readline";

        const rl = readline.createInterface({ input: process.stdin });
        rl.on("line", (line: string) => console.log(line.toUpperCase()));
        """,
    "args": """
        const args: string[] = process.argv.slice(2);
        for (const arg of args) {
          console.log(arg);
        }
        """,
    "exit_code": "process.exit(3);\n",
    "error": 'function fail(message: string): never {\n  throw new Error(message);\n}\n\nfail("boom-7");\n',
    "unicode": 'const text: string = "héllo wörld ✓ 日本";\nconsole.log(text);\n',
    "compile_error": 'let x: number = "s";\nconsole.log(x);\n',
    "cpu": """
        function primeSum(n: number): number {
          const composite = new Uint8Array(n);
          let sum = 0;
          for (let i = 2; i < n; i++) {
            if (composite[i]) continue;
            sum += i;
            for (let j = i * i; j < n; j += i) composite[j] = 1;
          }
          return sum;
        }

        console.log(primeSum(@N@));
        """,
    "timeout": "for (;;) {}\n",
    "readonly_code": """
        import * as fs from "fs";

        try {
          fs.writeFileSync("/code/probe.txt", "x");
          console.log("write-succeeded");
        } catch (err: unknown) {
          console.log("write-failed");
        }
        """,
    "network": """
        import * as net from "net";

        const socket: net.Socket = net.connect({ host: "127.0.0.1", port: @PORT@ });
        socket.on("connect", () => {
          console.log("connect-succeeded");
          socket.destroy();
        });
        socket.on("error", () => console.log("connect-failed"));
        """,
    "memory": """
        const mb: number = Number(process.argv[2]);
        const chunks: number[][] = [];
        for (let i = 0; i < mb; i++) {
          chunks.push(new Array<number>(1 << 17).fill(i));
        }
        console.log("allocated " + chunks.length);
        """,
    "default_limits": 'setTimeout((): void => console.log("slept"), 2000);\n',
}, compiled=True, cpu_n=2000000, heavy=heavy_typescript, expect={
    "error": {"exit_code": 1, "needles": ["Error: boom-7"]},
    "compile_error": {"needles": ["TS2322", "not assignable to type 'number'"]},
    # The bundle caps V8's heap (--max-old-space-size=96) inside the 128 MB run
    # limit: node's own "heap out of memory" abort, not the OOM killer.
    "memory": {"statuses": ["runtime_error"], "needles": ["JavaScript heap out of memory"]},
})

language("ruby", ["rb"], {
    "hello": 'puts "Hello, World!"\n',
    "stdin": "STDIN.each_line do |line|\n  puts line.chomp.upcase\nend\n",
    "args": "ARGV.each { |arg| puts arg }\n",
    "exit_code": "exit 3\n",
    "error": 'raise ArgumentError, "boom-7"\n',
    "unicode": 'puts "héllo wörld ✓ 日本"\n',
    "cpu": """
        n = @N@
        composite = Array.new(n, false)
        sum = 0
        (2...n).each do |i|
          next if composite[i]
          sum += i
          (i * i).step(n - 1, i) { |j| composite[j] = true }
        end
        puts sum
        """,
    "timeout": "loop {}\n",
    "readonly_code": """
        begin
          File.write("/code/probe.txt", "x")
          puts "write-succeeded"
        rescue SystemCallError
          puts "write-failed"
        end
        """,
    "network": """
        require "socket"

        begin
          TCPSocket.new("127.0.0.1", @PORT@, connect_timeout: 3).close
          puts "connect-succeeded"
        rescue SystemCallError, IOError
          puts "connect-failed"
        end
        """,
    "default_limits": 'sleep 2\nputs "slept"\n',
}, expect={"error": {"exit_code": 1, "needles": ["boom-7 (ArgumentError)"]}})

language("php", [], {
    "hello": '<?php\necho "Hello, World!\\n";\n',
    "stdin": """
        <?php
        while (($line = fgets(STDIN)) !== false) {
            echo strtoupper(rtrim($line, "\\n")), "\\n";
        }
        """,
    "args": '<?php\nforeach (array_slice($argv, 1) as $arg) {\n    echo $arg, "\\n";\n}\n',
    "exit_code": "<?php\nexit(3);\n",
    "error": '<?php\nthrow new RuntimeException("boom-7");\n',
    "unicode": '<?php\necho "héllo wörld ✓ 日本\\n";\n',
    "cpu": """
        <?php
        $n = @N@;
        $composite = array_fill(0, $n, false);
        $sum = 0;
        for ($i = 2; $i < $n; $i++) {
            if ($composite[$i]) {
                continue;
            }
            $sum += $i;
            for ($j = $i * $i; $j < $n; $j += $i) {
                $composite[$j] = true;
            }
        }
        echo $sum, "\\n";
        """,
    "timeout": "<?php\nwhile (true) {\n}\n",
    "readonly_code": """
        <?php
        if (@file_put_contents("/code/probe.txt", "x") === false) {
            echo "write-failed\\n";
        } else {
            echo "write-succeeded\\n";
        }
        """,
    "network": """
        <?php
        $socket = @fsockopen("127.0.0.1", @PORT@, $errno, $errstr, 3);
        if ($socket === false) {
            echo "connect-failed\\n";
        } else {
            fclose($socket);
            echo "connect-succeeded\\n";
        }
        """,
    "default_limits": '<?php\nsleep(2);\necho "slept\\n";\n',
}, expect={"error": {"exit_code": 255, "needles": ["Uncaught RuntimeException: boom-7"]}})

language("perl", ["pl"], {
    "hello": 'print "Hello, World!\\n";\n',
    "stdin": """
        use strict;
        use warnings;

        while (my $line = <STDIN>) {
            chomp $line;
            print uc($line), "\\n";
        }
        """,
    "args": 'use strict;\nuse warnings;\n\nprint "$_\\n" for @ARGV;\n',
    "exit_code": "exit 3;\n",
    "error": 'use strict;\nuse warnings;\n\ndie "boom-7\\n";\n',
    "unicode": 'use utf8;\nbinmode(STDOUT, ":encoding(UTF-8)");\nprint "héllo wörld ✓ 日本\\n";\n',
    "cpu": """
        use strict;
        use warnings;

        my $n = @N@;
        my @composite;
        my $sum = 0;
        for my $i (2 .. $n - 1) {
            next if $composite[$i];
            $sum += $i;
            for (my $j = $i * $i; $j < $n; $j += $i) {
                $composite[$j] = 1;
            }
        }
        print "$sum\\n";
        """,
    "timeout": "1 while 1;\n",
    "readonly_code": """
        use strict;
        use warnings;

        if (open(my $fh, ">", "/code/probe.txt")) {
            print "write-succeeded\\n";
        } else {
            print "write-failed\\n";
        }
        """,
    "network": """
        use strict;
        use warnings;
        use IO::Socket::INET;

        my $socket = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => @PORT@,
                                           Proto => "tcp", Timeout => 3);
        print $socket ? "connect-succeeded\\n" : "connect-failed\\n";
        """,
    "default_limits": 'sleep 2;\nprint "slept\\n";\n',
}, expect={"error": {"exit_code": 255, "needles": [ERROR_TEXT]}})

language("lua", [], {
    "hello": 'print("Hello, World!")\n',
    "stdin": "for line in io.lines() do\n  print(line:upper())\nend\n",
    "args": "for i = 1, #arg do\n  print(arg[i])\nend\n",
    "exit_code": "os.exit(3)\n",
    "error": 'error("boom-7")\n',
    "unicode": 'print("héllo wörld ✓ 日本")\n',
    "cpu": """
        local n = @N@
        local composite = {}
        local sum = 0
        for i = 2, n - 1 do
          if not composite[i] then
            sum = sum + i
            for j = i * i, n - 1, i do
              composite[j] = true
            end
          end
        end
        print(sum)
        """,
    "timeout": "while true do end\n",
    "readonly_code": """
        local f = io.open("/code/probe.txt", "w")
        if f then
          f:write("x")
          f:close()
          print("write-succeeded")
        else
          print("write-failed")
        end
        """,
    # Lua has no sleep: wait on the wall clock (the 2-3 s it spins cost CPU, not correctness)
    "default_limits": 'local start = os.time()\nwhile os.time() - start < 3 do end\nprint("slept")\n',
}, not_applicable={"network": "standard Lua has no sockets (LuaSocket is not in the bundle)"},
   expect={"error": {"exit_code": 1, "needles": [ERROR_TEXT, "stack traceback"]}})

language("bash", ["sh"], {
    "hello": 'echo "Hello, World!"\n',
    "stdin": 'while IFS= read -r line; do\n    echo "${line^^}"\ndone\n',
    "args": "for arg in \"$@\"; do\n    printf '%s\\n' \"$arg\"\ndone\n",
    "exit_code": "exit 3\n",
    "error": 'set -euo pipefail\necho "value: $undefined_thing"\necho "not reached"\n',
    "unicode": 'echo "héllo wörld ✓ 日本"\n',
    "cpu": """
        n=@N@
        declare -a composite
        sum=0
        for ((i = 2; i < n; i++)); do
            [[ -n ${composite[i]} ]] && continue
            ((sum += i))
            for ((j = i * i; j < n; j += i)); do
                composite[j]=1
            done
        done
        echo "$sum"
        """,
    "timeout": "while :; do :; done\n",
    "readonly_code": "if { echo x > /code/probe.txt; } 2>/dev/null; then\n    echo write-succeeded\nelse\n"
                     "    echo write-failed\nfi\n",
    "network": "if { exec 3<>/dev/tcp/127.0.0.1/@PORT@; } 2>/dev/null; then\n    echo connect-succeeded\nelse\n"
               "    echo connect-failed\nfi\n",
    "default_limits": "sleep 2\necho slept\n",
}, cpu_n=20000, expect={"error": {"exit_code": 1, "needles": ["undefined_thing: unbound variable"]}})

language("csharp", ["c#", "cs", "mono"], {
    "hello": """
        using System;

        class Program
        {
            static void Main()
            {
                Console.WriteLine("Hello, World!");
            }
        }
        """,
    "stdin": """
        using System;

        class Program
        {
            static void Main()
            {
                string line;
                while ((line = Console.ReadLine()) != null)
                    Console.WriteLine(line.ToUpperInvariant());
            }
        }
        """,
    "args": """
        using System;

        class Program
        {
            static void Main(string[] args)
            {
                foreach (var arg in args)
                    Console.WriteLine(arg);
            }
        }
        """,
    "exit_code": "class Program\n{\n    static int Main()\n    {\n        return 3;\n    }\n}\n",
    "error": """
        using System;

        class Program
        {
            static void Main()
            {
                throw new InvalidOperationException("boom-7");
            }
        }
        """,
    "unicode": """
        using System;

        class Program
        {
            static void Main()
            {
                Console.WriteLine("héllo wörld ✓ 日本");
            }
        }
        """,
    "compile_error": """
        using System;

        class Program
        {
            static void Main()
            {
                Console.WriteLine(undefined_thing);
            }
        }
        """,
    "cpu": """
        using System;

        class Program
        {
            static void Main()
            {
                const int n = @N@;
                var composite = new bool[n];
                long sum = 0;
                for (int i = 2; i < n; i++)
                {
                    if (composite[i])
                        continue;
                    sum += i;
                    for (long j = (long)i * i; j < n; j += i)
                        composite[j] = true;
                }
                Console.WriteLine(sum);
            }
        }
        """,
    "timeout": """
        class Program
        {
            static void Main()
            {
                while (true)
                {
                }
            }
        }
        """,
    "readonly_code": """
        using System;
        using System.IO;

        class Program
        {
            static void Main()
            {
                try
                {
                    File.WriteAllText("/code/probe.txt", "x");
                    Console.WriteLine("write-succeeded");
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    Console.WriteLine("write-failed");
                }
            }
        }
        """,
    "network": """
        using System;
        using System.Net.Sockets;

        class Program
        {
            static void Main()
            {
                try
                {
                    using (var client = new TcpClient("127.0.0.1", @PORT@))
                        Console.WriteLine("connect-succeeded");
                }
                catch (SocketException)
                {
                    Console.WriteLine("connect-failed");
                }
            }
        }
        """,
    "default_limits": """
        using System;
        using System.Threading;

        class Program
        {
            static void Main()
            {
                Thread.Sleep(2000);
                Console.WriteLine("slept");
            }
        }
        """,
}, compiled=True, cpu_n=2000000, heavy=heavy_csharp, expect={
    "error": {"exit_code": 1, "needles": ["System.InvalidOperationException: boom-7"]},
    "compile_error": {"needles": ["CS0103", "undefined_thing"]},
})

language("sqlite3", ["sql", "sqlite"], {
    "hello": "SELECT 'Hello, World!';\n",
    # .import reads the lines from cat, which inherits the shell's stdin (so
    # this works whether the server gives a file or a pipe, which uid 65534
    # could not reopen through /dev/stdin)
    "stdin": """
        CREATE TABLE lines(line TEXT);
        .import '|cat' lines
        SELECT upper(line) FROM lines ORDER BY rowid;
        """,
    # the bundle puts the arguments in a table: temp.args(i, arg)
    "args": "SELECT arg FROM temp.args ORDER BY i;\n",
    "exit_code": ".exit 3\n",
    "error": "SELECT count(*) FROM no_such_table;\n",
    "unicode": "SELECT 'héllo wörld ✓ 日本';\n",
    "cpu": """
        CREATE TABLE n(x INTEGER PRIMARY KEY);
        WITH RECURSIVE c(x) AS (SELECT 2 UNION ALL SELECT x + 1 FROM c WHERE x < @N@ - 1)
        INSERT INTO n SELECT x FROM c;
        DELETE FROM n WHERE x IN (
            SELECT a.x * b.x FROM n AS a JOIN n AS b ON b.x BETWEEN a.x AND (@N@ - 1) / a.x);
        SELECT sum(x) FROM n;
        """,
    "timeout": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;\n",
    # SQL cannot branch on a failed statement: the table lives in the attached
    # file, so 'write-succeeded' can only come out if /code was writable.
    "readonly_code": """
        ATTACH DATABASE '/code/probe.db' AS probe;
        CREATE TABLE probe.t(x TEXT);
        INSERT INTO probe.t VALUES ('write-succeeded');
        SELECT x FROM probe.t;
        """,
}, cpu_n=200000, not_applicable={
    "network": "SQL has no sockets",
    "default_limits": "SQL has no sleep",
}, expect={
    "error": {"exit_code": 1, "needles": ["no such table: no_such_table"]},
    "readonly_code": {"status": "runtime_error", "output": None,
                      "needles_any": ["unable to open database", "readonly database", "read-only"]},
})

language("fortran", ["f90", "gfortran", "f95"], {
    "hello": "program hello\n  implicit none\n  print '(a)', 'Hello, World!'\nend program hello\n",
    "stdin": """
        program main
          implicit none
          character(len=256) :: line
          integer :: ios, i
          do
            read (*, '(a)', iostat=ios) line
            if (ios /= 0) exit
            do i = 1, len_trim(line)
              if (line(i:i) >= 'a' .and. line(i:i) <= 'z') line(i:i) = achar(iachar(line(i:i)) - 32)
            end do
            print '(a)', trim(line)
          end do
        end program main
        """,
    "args": """
        program main
          implicit none
          integer :: i, n
          character(len=:), allocatable :: arg
          do i = 1, command_argument_count()
            call get_command_argument(i, length=n)
            allocate (character(len=n) :: arg)
            call get_command_argument(i, arg)
            print '(a)', arg
            deallocate (arg)
          end do
        end program main
        """,
    "exit_code": "program main\n  implicit none\n  stop 3\nend program main\n",
    "error": "program main\n  implicit none\n  error stop 'boom-7'\nend program main\n",
    "unicode": "program main\n  implicit none\n  print '(a)', 'héllo wörld ✓ 日本'\nend program main\n",
    "compile_error": "program main\n  implicit none\n  print *, undefined_thing\nend program main\n",
    "cpu": """
        program main
          implicit none
          integer, parameter :: n = @N@
          logical, allocatable :: composite(:)
          integer(8) :: total, i, j
          allocate (composite(0:n - 1))
          composite = .false.
          total = 0
          do i = 2, n - 1
            if (composite(i)) cycle
            total = total + i
            do j = i * i, n - 1, i
              composite(j) = .true.
            end do
          end do
          print '(i0)', total
        end program main
        """,
    "timeout": "program main\n  implicit none\n  integer(8), volatile :: n\n  n = 0\n  do\n    n = n + 1\n  end do\n"
               "end program main\n",
    "readonly_code": """
        program main
          implicit none
          integer :: u, ios
          open (newunit=u, file='/code/probe.txt', status='replace', action='write', iostat=ios)
          if (ios /= 0) then
            print '(a)', 'write-failed'
          else
            write (u, '(a)') 'x'
            close (u)
            print '(a)', 'write-succeeded'
          end if
        end program main
        """,
    "default_limits": "program main\n  implicit none\n  call sleep(2)\n  print '(a)', 'slept'\nend program main\n",
}, compiled=True, cpu_n=2000000, heavy=heavy_fortran,
   not_applicable={"network": "Fortran has no sockets"}, expect={
    "exit_code": {"output": "STOP 3\n"},  # gfortran reports the stop code on stderr
    "error": {"exit_code": 1, "needles": ["ERROR STOP", ERROR_TEXT]},
    "compile_error": {"needles": ["undefined_thing", "no IMPLICIT type"]},
})

language("pascal", ["fpc", "freepascal"], {
    "hello": "program Hello;\n\nbegin\n  WriteLn('Hello, World!');\nend.\n",
    "stdin": """
        program Main;

        uses SysUtils;

        var
          line: string;
        begin
          while not EOF(Input) do
          begin
            ReadLn(line);
            WriteLn(UpperCase(line));
          end;
        end.
        """,
    "args": """
        program Main;

        var
          i: Integer;
        begin
          for i := 1 to ParamCount do
            WriteLn(ParamStr(i));
        end.
        """,
    "exit_code": "program Main;\n\nbegin\n  Halt(3);\nend.\n",
    "error": """
        program Main;

        {$mode objfpc}

        uses SysUtils;

        begin
          raise Exception.Create('boom-7');
        end.
        """,
    "unicode": "program Main;\n\nbegin\n  WriteLn('héllo wörld ✓ 日本');\nend.\n",
    "compile_error": "program Main;\n\nbegin\n  WriteLn(undefined_thing);\nend.\n",
    "cpu": """
        program Main;

        const
          N = @N@;

        var
          composite: array of Boolean;
          i, j, sum: Int64;
        begin
          SetLength(composite, N);
          sum := 0;
          for i := 2 to N - 1 do
            if not composite[i] then
            begin
              sum := sum + i;
              j := i * i;
              while j < N do
              begin
                composite[j] := True;
                j := j + i;
              end;
            end;
          WriteLn(sum);
        end.
        """,
    "timeout": "program Main;\n\nbegin\n  while True do\n    ;\nend.\n",
    "readonly_code": """
        program Main;

        var
          f: Text;
        begin
          Assign(f, '/code/probe.txt');
          {$I-}
          Rewrite(f);
          {$I+}
          if IOResult <> 0 then
            WriteLn('write-failed')
          else
          begin
            WriteLn(f, 'x');
            Close(f);
            WriteLn('write-succeeded');
          end;
        end.
        """,
    "network": """
        program Main;

        uses Sockets;

        var
          fd: LongInt;
          addr: TInetSockAddr;
        begin
          fd := fpSocket(AF_INET, SOCK_STREAM, 0);
          addr.sin_family := AF_INET;
          addr.sin_port := htons(@PORT@);
          addr.sin_addr := StrToNetAddr('127.0.0.1');
          if (fd < 0) or (fpConnect(fd, @addr, SizeOf(addr)) <> 0) then
            WriteLn('connect-failed')
          else
            WriteLn('connect-succeeded');
        end.
        """,
    "default_limits": "program Main;\n\nuses SysUtils;\n\nbegin\n  Sleep(2000);\n  WriteLn('slept');\nend.\n",
}, compiled=True, cpu_n=2000000, heavy=heavy_pascal, expect={
    "error": {"exit_code": 217, "needles": ["unhandled exception", ERROR_TEXT]},
    "compile_error": {"needles": ["Identifier not found", "undefined_thing"]},
})

language("r", ["rscript"], {
    "hello": 'cat("Hello, World!\\n")\n',
    "stdin": 'lines <- readLines(file("stdin"))\nwriteLines(toupper(lines))\n',
    "args": "args <- commandArgs(trailingOnly = TRUE)\nwriteLines(args)\n",
    "exit_code": "quit(status = 3)\n",
    "error": 'stop("boom-7")\n',
    "unicode": 'cat("héllo wörld ✓ 日本\\n")\n',
    "cpu": """
        n <- @N@
        is_prime <- rep(TRUE, n - 1)
        is_prime[1] <- FALSE
        for (i in 2:floor(sqrt(n - 1))) {
          if (is_prime[i]) {
            is_prime[seq(i * i, n - 1, by = i)] <- FALSE
          }
        }
        cat(sprintf("%.0f\\n", sum(as.numeric(which(is_prime)))))
        """,
    "timeout": "repeat {}\n",
    "readonly_code": """
        ok <- tryCatch({
          writeLines("x", "/code/probe.txt")
          TRUE
        }, warning = function(w) FALSE, error = function(e) FALSE)
        cat(if (ok) "write-succeeded\\n" else "write-failed\\n")
        """,
    "network": """
        ok <- tryCatch({
          con <- socketConnection("127.0.0.1", @PORT@, open = "r+b", blocking = TRUE, timeout = 3)
          close(con)
          TRUE
        }, warning = function(w) FALSE, error = function(e) FALSE)
        cat(if (ok) "connect-succeeded\\n" else "connect-failed\\n")
        """,
    "default_limits": 'Sys.sleep(2)\ncat("slept\\n")\n',
}, expect={"error": {"exit_code": 1, "needles": ["Error", ERROR_TEXT]}})

language("elixir", ["exs"], {
    "hello": 'IO.puts("Hello, World!")\n',
    "stdin": """
        IO.stream(:stdio, :line)
        |> Enum.each(fn line -> line |> String.trim_trailing("\\n") |> String.upcase() |> IO.puts() end)
        """,
    "args": "System.argv() |> Enum.each(&IO.puts/1)\n",
    "exit_code": "System.halt(3)\n",
    "error": 'raise ArgumentError, "boom-7"\n',
    "unicode": 'IO.puts("héllo wörld ✓ 日本")\n',
    "cpu": """
        defmodule Primes do
          def sum_below(n) do
            candidates = Enum.to_list(2..trunc(:math.sqrt(n - 1)))
            small = Enum.filter(candidates, &prime?(&1, candidates))
            Enum.reduce(2..(n - 1), 0, fn x, sum -> if prime?(x, small), do: sum + x, else: sum end)
          end

          defp prime?(x, [p | _]) when p * p > x, do: true
          defp prime?(x, [p | rest]), do: rem(x, p) != 0 and prime?(x, rest)
          defp prime?(_x, []), do: true
        end

        IO.puts(Primes.sum_below(@N@))
        """,
    "timeout": """
        defmodule Spin do
          def forever, do: forever()
        end

        Spin.forever()
        """,
    "readonly_code": """
        case File.write("/code/probe.txt", "x") do
          :ok -> IO.puts("write-succeeded")
          {:error, _reason} -> IO.puts("write-failed")
        end
        """,
    "network": """
        case :gen_tcp.connect({127, 0, 0, 1}, @PORT@, [], 3000) do
          {:ok, socket} ->
            :gen_tcp.close(socket)
            IO.puts("connect-succeeded")

          {:error, _reason} ->
            IO.puts("connect-failed")
        end
        """,
    "default_limits": 'Process.sleep(2000)\nIO.puts("slept")\n',
}, expect={"error": {"exit_code": 1, "needles": ["(ArgumentError) boom-7"]}})

ERLANG_HEAD = "#!/usr/bin/env escript\n-module(main).\n-export([main/1]).\n\n"
language("erlang", ["erl", "escript"], {
    "hello": ERLANG_HEAD + 'main(_) ->\n    io:format("Hello, World!~n").\n',
    "stdin": ERLANG_HEAD + """
        main(_) ->
            loop().

        loop() ->
            case io:get_line("") of
                eof ->
                    ok;
                Line ->
                    io:format("~s~n", [string:uppercase(string:trim(Line, trailing, "\\n"))]),
                    loop()
            end.
        """,
    "args": ERLANG_HEAD + 'main(Args) ->\n    lists:foreach(fun(Arg) -> io:format("~s~n", [Arg]) end, Args).\n',
    "exit_code": ERLANG_HEAD + "main(_) ->\n    halt(3).\n",
    "error": ERLANG_HEAD + "main(_) ->\n    error('boom-7').\n",
    "unicode": ERLANG_HEAD + 'main(_) ->\n    io:setopts([{encoding, unicode}]),\n'
                             '    io:format("~ts~n", ["héllo wörld ✓ 日本"]).\n',
    "cpu": ERLANG_HEAD + """
        -mode(compile).

        main(_) ->
            N = @N@,
            Small = [P || P <- lists:seq(2, isqrt(N)), is_prime(P, lists:seq(2, isqrt(P)))],
            Primes = [X || X <- lists:seq(2, N - 1), is_prime(X, Small)],
            io:format("~b~n", [lists:sum(Primes)]).

        isqrt(N) -> trunc(math:sqrt(N)).

        is_prime(_, []) -> true;
        is_prime(X, [P | _]) when P * P > X -> true;
        is_prime(X, [P | Ps]) -> X rem P =/= 0 andalso is_prime(X, Ps).
        """,
    "timeout": ERLANG_HEAD + "main(_) ->\n    loop().\n\nloop() ->\n    loop().\n",
    "readonly_code": ERLANG_HEAD + """
        main(_) ->
            case file:write_file("/code/probe.txt", <<"x">>) of
                ok -> io:format("write-succeeded~n");
                {error, _} -> io:format("write-failed~n")
            end.
        """,
    "network": ERLANG_HEAD + """
        main(_) ->
            case gen_tcp:connect({127, 0, 0, 1}, @PORT@, [], 3000) of
                {ok, Socket} ->
                    gen_tcp:close(Socket),
                    io:format("connect-succeeded~n");
                {error, _} ->
                    io:format("connect-failed~n")
            end.
        """,
    "default_limits": ERLANG_HEAD + 'main(_) ->\n    timer:sleep(2000),\n    io:format("slept~n").\n',
}, expect={"error": {"exit_code": 127, "needles": ["escript: exception error: 'boom-7'"]}})

language("commonlisp", ["lisp", "sbcl", "cl"], {
    "hello": '(format t "Hello, World!~%")\n',
    "stdin": "(loop for line = (read-line *standard-input* nil)\n      while line\n"
             "      do (write-line (string-upcase line)))\n",
    "args": "(dolist (arg (rest sb-ext:*posix-argv*))\n  (write-line arg))\n",
    "exit_code": "(sb-ext:exit :code 3)\n",
    "error": '(error "boom-7")\n',
    "unicode": '(write-line "héllo wörld ✓ 日本")\n',
    "cpu": """
        (defun prime-sum (n)
          (let ((composite (make-array n :element-type 'bit :initial-element 0))
                (sum 0))
            (loop for i from 2 below n
                  when (zerop (sbit composite i))
                    do (incf sum i)
                       (loop for j from (* i i) below n by i
                             do (setf (sbit composite j) 1)))
            sum))

        (format t "~d~%" (prime-sum @N@))
        """,
    "timeout": "(loop)\n",
    "readonly_code": """
        (handler-case
            (progn
              (with-open-file (out "/code/probe.txt" :direction :output :if-exists :supersede)
                (write-string "x" out))
              (write-line "write-succeeded"))
          (error () (write-line "write-failed")))
        """,
    "network": """
        (require :sb-bsd-sockets)

        (let ((socket (make-instance 'sb-bsd-sockets:inet-socket :type :stream :protocol :tcp)))
          (handler-case
              (progn
                (sb-bsd-sockets:socket-connect socket #(127 0 0 1) @PORT@)
                (write-line "connect-succeeded"))
            (error () (write-line "connect-failed"))))
        """,
    "default_limits": '(sleep 2)\n(write-line "slept")\n',
}, cpu_n=2000000, expect={"error": {"exit_code": 1, "needles": ["Unhandled SIMPLE-ERROR", ERROR_TEXT]}})

NASM_EXIT0 = "        mov     eax, 60\n        xor     edi, edi\n        syscall\n"
language("nasm", ["asm", "nasm64"], {
    "hello": """
                global  _start

                section .rodata
        msg:    db      "Hello, World!", 10
        len:    equ     $ - msg

                section .text
        _start: mov     eax, 1                  ; write(1, msg, len)
                mov     edi, 1
                lea     rsi, [rel msg]
                mov     edx, len
                syscall
                mov     eax, 60                 ; exit(0)
                xor     edi, edi
                syscall
        """,
    "stdin": """
                global  _start

                section .bss
        buf:    resb    4096

                section .text
        _start:
        .read:  xor     eax, eax                ; n = read(0, buf, 4096)
                xor     edi, edi
                lea     rsi, [rel buf]
                mov     edx, 4096
                syscall
                test    rax, rax
                jle     .done
                mov     rdx, rax
                xor     ecx, ecx
        .upper: mov     r8b, [rsi + rcx]        ; a-z -> A-Z
                cmp     r8b, 'a'
                jb      .next
                cmp     r8b, 'z'
                ja      .next
                sub     r8b, 32
                mov     [rsi + rcx], r8b
        .next:  inc     rcx
                cmp     rcx, rdx
                jb      .upper
                mov     eax, 1                  ; write(1, buf, n)
                mov     edi, 1
                syscall
                jmp     .read
        .done:  mov     eax, 60
                xor     edi, edi
                syscall
        """,
    "args": """
                global  _start

                section .rodata
        nl:     db      10

                section .text
        _start: mov     r12, [rsp]              ; argc
                lea     r13, [rsp + 16]         ; &argv[1]
                dec     r12
        .next:  test    r12, r12
                jz      .done
                mov     rsi, [r13]
                xor     edx, edx
        .len:   cmp     byte [rsi + rdx], 0
                je      .print
                inc     rdx
                jmp     .len
        .print: mov     eax, 1                  ; write(1, argv[i], strlen)
                mov     edi, 1
                syscall
                mov     eax, 1                  ; write(1, "\\n", 1)
                mov     edi, 1
                lea     rsi, [rel nl]
                mov     edx, 1
                syscall
                add     r13, 8
                dec     r12
                jmp     .next
        .done:  mov     eax, 60
                xor     edi, edi
                syscall
        """,
    "exit_code": "        global  _start\n\n        section .text\n_start: mov     eax, 60\n        mov     edi, 3\n"
                 "        syscall\n",
    # No exceptions in assembly: the uncaught error is a fault, reported as SIGSEGV.
    "error": "        global  _start\n\n        section .text\n_start: xor     eax, eax\n"
             "        mov     byte [rax], 1           ; store to address 0\n" + NASM_EXIT0,
    "unicode": """
                global  _start

                section .rodata
        msg:    db      "héllo wörld ✓ 日本", 10
        len:    equ     $ - msg

                section .text
        _start: mov     eax, 1
                mov     edi, 1
                lea     rsi, [rel msg]
                mov     edx, len
                syscall
                mov     eax, 60
                xor     edi, edi
                syscall
        """,
    "compile_error": "        global  _start\n\n        section .text\n_start: mov     rax, undefined_thing\n"
                     + NASM_EXIT0,
    "cpu": """
                global  _start
        N       equ     @N@

                section .bss
        composite: resb N
        digits: resb    32

                section .text
        _start: lea     rdi, [rel composite]
                mov     rbx, 2
        .outer: mov     rax, rbx                ; for i while i*i < N
                imul    rax, rbx
                cmp     rax, N
                jae     .sum
                cmp     byte [rdi + rbx], 0
                jne     .nexti
        .mark:  mov     byte [rdi + rax], 1     ; for j = i*i; j < N; j += i
                add     rax, rbx
                cmp     rax, N
                jb      .mark
        .nexti: inc     rbx
                jmp     .outer
        .sum:   xor     r8, r8
                mov     rbx, 2
        .add:   cmp     byte [rdi + rbx], 0
                jne     .skip
                add     r8, rbx
        .skip:  inc     rbx
                cmp     rbx, N
                jb      .add
                lea     rsi, [rel digits + 31]  ; r8 in decimal, then "\\n"
                mov     byte [rsi], 10
                mov     rax, r8
                mov     rcx, 10
        .digit: xor     edx, edx
                div     rcx
                add     dl, '0'
                dec     rsi
                mov     [rsi], dl
                test    rax, rax
                jnz     .digit
                lea     rdx, [rel digits + 32]
                sub     rdx, rsi
                mov     eax, 1
                mov     edi, 1
                syscall
                mov     eax, 60
                xor     edi, edi
                syscall
        """,
    "timeout": "        global  _start\n\n        section .text\n_start: jmp     _start\n",
    "readonly_code": """
                global  _start

                section .rodata
        path:   db      "/code/probe.txt", 0
        failed: db      "write-failed", 10
        flen:   equ     $ - failed
        wrote:  db      "write-succeeded", 10
        wlen:   equ     $ - wrote

                section .text
        _start: mov     eax, 2                  ; open(path, O_WRONLY|O_CREAT|O_TRUNC, 0644)
                lea     rdi, [rel path]
                mov     esi, 0x241
                mov     edx, 0o644
                syscall
                test    rax, rax
                js      .fail
                lea     rsi, [rel wrote]
                mov     edx, wlen
                jmp     .say
        .fail:  lea     rsi, [rel failed]
                mov     edx, flen
        .say:   mov     eax, 1
                mov     edi, 1
                syscall
                mov     eax, 60
                xor     edi, edi
                syscall
        """,
    "network": """
                global  _start
        PORT    equ     @PORT@

                section .rodata
        addr:   dw      2                       ; struct sockaddr_in: AF_INET,
                db      PORT >> 8, PORT & 0xff  ; the port in network order,
                db      127, 0, 0, 1            ; 127.0.0.1
                dq      0
        failed: db      "connect-failed", 10
        flen:   equ     $ - failed
        done:   db      "connect-succeeded", 10
        dlen:   equ     $ - done

                section .text
        _start: mov     eax, 41                 ; socket(AF_INET, SOCK_STREAM, 0)
                mov     edi, 2
                mov     esi, 1
                xor     edx, edx
                syscall
                test    rax, rax
                js      .fail
                mov     rdi, rax                ; connect(fd, &addr, 16)
                mov     eax, 42
                lea     rsi, [rel addr]
                mov     edx, 16
                syscall
                test    rax, rax
                jnz     .fail
                lea     rsi, [rel done]
                mov     edx, dlen
                jmp     .say
        .fail:  lea     rsi, [rel failed]
                mov     edx, flen
        .say:   mov     eax, 1
                mov     edi, 1
                syscall
                mov     eax, 60
                xor     edi, edi
                syscall
        """,
    "default_limits": """
                global  _start

                section .rodata
        delay:  dq      2, 0                    ; struct timespec: 2 s
        msg:    db      "slept", 10
        len:    equ     $ - msg

                section .text
        _start: mov     eax, 35                 ; nanosleep(&delay, NULL)
                lea     rdi, [rel delay]
                xor     esi, esi
                syscall
                mov     eax, 1
                mov     edi, 1
                lea     rsi, [rel msg]
                mov     edx, len
                syscall
                mov     eax, 60
                xor     edi, edi
                syscall
        """,
}, compiled=True, cpu_n=2000000, heavy=heavy_nasm, expect={
    "error": {"exit_code": 139, "signal": "SIGSEGV", "needles": []},
    "compile_error": {"needles": ["undefined_thing"]},
})

# The spec's table, in its order (a check that nothing above went missing).
TABLE_ORDER = ("python3", "c", "cpp", "rust", "go", "java", "javascript", "typescript", "ruby", "php", "perl",
               "lua", "bash", "csharp", "sqlite3", "fortran", "pascal", "r", "elixir", "erlang", "commonlisp",
               "nasm")
assert tuple(sorted(LANGUAGES)) == tuple(sorted(TABLE_ORDER)), sorted(set(LANGUAGES) ^ set(TABLE_ORDER))
