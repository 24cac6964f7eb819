# Reads a TAP document with Perl's TAP::Parser (the parser behind `prove`) and prints what
# it understood as JSON, so that the tests hold policyrun's TAP to a real consumer.
use strict;
use warnings;
use JSON::PP;
use TAP::Parser;

my $file = shift @ARGV or die "usage: tap-summary.pl FILE\n";
open my $fh, '<:encoding(UTF-8)', $file or die "$file: $!\n";
my $tap = do { local $/; <$fh> };
close $fh;

my $parser = TAP::Parser->new({ tap => $tap });
my (@tests, @comments, $last);
while (my $result = $parser->next) {
    if ($result->is_test) {
        $last = {
            number      => $result->number + 0,
            ok          => $result->is_ok ? JSON::PP::true : JSON::PP::false,
            actual_ok   => $result->is_actual_ok ? JSON::PP::true : JSON::PP::false,
            description => $result->description,
            directive   => $result->directive,
            explanation => $result->explanation,
        };
        push @tests, $last;
    } elsif ($result->is_yaml) {
        die "diagnostics before any test point\n" unless $last;
        $last->{diagnostics} = $result->data;
    } elsif ($result->is_comment) {
        push @comments, $result->comment;
    } elsif ($result->is_unknown) {
        push @comments, "UNKNOWN: " . $result->as_string;
    }
}
print JSON::PP->new->utf8->canonical->encode({
    version      => $parser->version + 0,
    planned      => $parser->tests_planned + 0,
    run          => $parser->tests_run + 0,
    parse_errors => [ $parser->parse_errors ],
    passed       => scalar($parser->passed) + 0,
    failed       => scalar($parser->failed) + 0,
    skipped      => scalar($parser->skipped) + 0,
    tests        => \@tests,
    comments     => \@comments,
});
