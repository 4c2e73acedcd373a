build/obj/src/cal/jp.o: src/cal/jp.c src/cal/cal.h src/cal/cal_int.h
src/cal/cal.h:
src/cal/cal_int.h:
