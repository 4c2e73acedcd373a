build/obj/src/util/hmap.o: src/util/hmap.c src/util/hmap.h src/util/mem.h
src/util/hmap.h:
src/util/mem.h:
