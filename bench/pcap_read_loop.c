/* The floor for `reprise capture --pcap`: a minimal libpcap loop that reads every packet of a
 * file and touches its bytes, nothing else. Prints "packets bytes". */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: pcap_read_loop FILE\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(argv[1], err);
  if (p == NULL) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  struct pcap_pkthdr* h;
  const u_char* d;
  unsigned long long packets = 0, bytes = 0, sum = 0;
  while (pcap_next_ex(p, &h, &d) == 1) {
    ++packets;
    bytes += h->caplen;
    sum += d[0] + d[h->caplen - 1];
  }
  pcap_close(p);
  printf("%llu %llu %llu\n", packets, bytes, sum & 1);
  return 0;
}
