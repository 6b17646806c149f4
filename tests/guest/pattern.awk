# pattern.awk: the test guest's data pattern, shared by the ISO build and the
# host side of the end-to-end disk tests.
#
#   awk -v label=NAME -v first=SECTOR -v count=N -f tests/guest/pattern.awk
#
# prints N 512-byte sectors; sector S (counted from first) is 16 lines of 32
# bytes "NAME        0000000S III CCCC\n", III being the line's index in the
# sector and CCCC a mix of both.  Every sector of a pattern differs from every
# other, and patterns with different labels differ, so data that lands in the
# wrong sector, the wrong image or not at all is seen by a checksum.
BEGIN {
    for (s = first; s < first + count; s++)
        for (i = 0; i < 16; i++)
            printf "%-11.11s %010d %03d %04d\n", label, s, i, (s * 31 + i * 7) % 10000
}
