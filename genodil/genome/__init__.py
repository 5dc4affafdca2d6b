"""Files (FASTA, bigWig, BED, VCF) and DNA encoding."""
